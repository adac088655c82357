//! The engine against real parts: camera cards as real exFAT file systems, mounted through
//! FUSE from a loop device, as a card reader's would be.

mod cards;
mod disk;
mod exfat;
mod frames;
mod photos;
mod service;
mod support;
