// SPDX-License-Identifier: LGPL-2.1
// Copyright 2021 Daniel Vogelbacher <daniel@chaospixel.com>

pub mod bmff;
pub mod ciff;
pub mod jfif;
pub mod tiff;
