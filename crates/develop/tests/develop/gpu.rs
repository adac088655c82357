//! The GPU backends against the CPU path, image by image: every built-in preset on every
//! sample and on a tiled 24 MP frame must match within PSNR ≥ 50 dB and 2/255. The GPU
//! develops all presets of a file as one program (one upload, shared demosaic), as uploads
//! do; the CPU develops each preset on its own, so batching is checked as well.
//!
//! wgpu runs on whatever adapter there is; on machines without a GPU that is Mesa's
//! lavapipe (`mesa-vulkan-drivers`), which `scripts/test` installs and then requires with
//! `WEDSYNC_REQUIRE_WGPU=1`. CUDA runs where a GPU and driver are present; elsewhere the
//! test prints why it was skipped (unless `WEDSYNC_REQUIRE_CUDA=1`, as `benches/gpu.sh`
//! sets on GPU machines, makes that a failure).

use wedsync_develop::{synth, BackendChoice, BackendOptions, Developer, Kind, PresetSet, Rgb8};

use crate::support::{sample, Scratch, CR2, RAWS};

/// The developer for `choice`, or None (printed) where this machine has no such backend.
fn gpu_developer(choice: BackendChoice) -> Option<Developer> {
    let options = BackendOptions { choice, software_adapters: true, kernel_cache: None, survey: false };
    match Developer::new(&options) {
        Ok(developer) => Some(developer),
        Err(e) => {
            let variable = match choice {
                BackendChoice::Cuda => "WEDSYNC_REQUIRE_CUDA",
                _ => "WEDSYNC_REQUIRE_WGPU",
            };
            assert!(std::env::var_os(variable).is_none(), "{variable} is set but {choice:?} cannot run: {e}");
            eprintln!("SKIPPED: {choice:?} parity: {e}");
            None
        }
    }
}

struct Difference {
    psnr: f64,
    worst: u8,
}

fn compare(cpu: &Rgb8, gpu: &Rgb8) -> Difference {
    assert_eq!((cpu.width, cpu.height), (gpu.width, gpu.height), "sizes differ");
    assert!(!cpu.data.is_empty() && cpu.data.len() == gpu.data.len());
    let mut squared = 0.0f64;
    let mut worst = 0u8;
    for (a, b) in cpu.data.iter().zip(&gpu.data) {
        let d = a.abs_diff(*b);
        worst = worst.max(d);
        squared += f64::from(d) * f64::from(d);
    }
    let mse = squared / cpu.data.len() as f64;
    let psnr = if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64 * 255.0 / mse).log10() };
    Difference { psnr, worst }
}

/// Every built-in preset of every file in `files`: on `gpu` all at once, on the CPU one by one.
fn assert_parity(gpu: &Developer, files: &[std::path::PathBuf]) {
    let cpu = Developer::cpu();
    let presets = PresetSet::built_in();
    let all: Vec<_> = presets.iter().collect();
    let mut compared = 0;
    for file in files {
        let batch = gpu.develop_pixels_presets(file, &all).expect("GPU develop");
        assert_eq!(batch.len(), all.len(), "{}: one image per preset", file.display());
        for (preset, got) in all.iter().zip(batch) {
            let want = cpu.develop_pixels(file, preset).expect("CPU develop");
            assert_eq!(got.backend, gpu.backend(), "{}: fell back: {:?}", file.display(), got.fallback);
            let d = compare(&want.image, &got.image);
            eprintln!(
                "{} {} ({}, {}x{}): PSNR {:.1} dB, worst {}/255",
                file.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
                preset.name,
                want.demosaic.map(|m| m.name()).unwrap_or("-"),
                want.image.width,
                want.image.height,
                d.psnr,
                d.worst
            );
            assert!(
                d.psnr >= 50.0 && d.worst <= 2,
                "{} {}: PSNR {:.1} dB, worst {}",
                file.display(),
                preset.name,
                d.psnr,
                d.worst
            );
            compared += 1;
        }
    }
    assert_eq!(compared, files.len() * all.len());
}

/// On the CPU, developing every preset from one decode gives exactly what developing each
/// preset alone gives.
#[test]
fn developing_presets_together_matches_developing_each_alone() {
    let cpu = Developer::cpu();
    let presets = PresetSet::built_in();
    let all: Vec<_> = presets.iter().collect();
    for name in RAWS {
        let file = sample(name);
        let batch = cpu.develop_pixels_presets(&file, &all).expect("develop together");
        assert_eq!(batch.len(), all.len());
        for (preset, together) in all.iter().zip(batch) {
            let alone = cpu.develop_pixels(&file, preset).expect("develop alone");
            assert_eq!(
                (together.image.width, together.image.height),
                (alone.image.width, alone.image.height)
            );
            assert!(together.image.data == alone.image.data, "{name} {}: images differ", preset.name);
        }
    }
}

#[test]
fn wgpu_matches_the_cpu_on_every_sample_and_preset() {
    let Some(gpu) = gpu_developer(BackendChoice::Wgpu) else { return };
    assert_eq!(gpu.backend(), Kind::Wgpu);
    let files: Vec<_> = RAWS.iter().map(|name| sample(name)).collect();
    assert_parity(&gpu, &files);
    // Again, on the buffers (and read-back buffers) the first round left, which the backend
    // keeps for frames of the same size.
    assert_parity(&gpu, &files);
}

#[test]
fn cuda_matches_the_cpu_on_every_sample_and_preset() {
    let Some(gpu) = gpu_developer(BackendChoice::Cuda) else { return };
    let files: Vec<_> = RAWS.iter().map(|name| sample(name)).collect();
    assert_parity(&gpu, &files);
}

/// A 24 MP frame: the CR2's real mosaic tiled (CFA phase kept) into a DNG.
fn tiled_24mp(scratch: &Scratch) -> std::path::PathBuf {
    let path = scratch.0.join("tiled-24mp.dng");
    let (w, h) = synth::tiled_dng(&sample(CR2), &path, 24.0).expect("tile the CR2");
    assert!(w * h >= 23_000_000, "{w}x{h} is not 24 MP");
    path
}

#[test]
fn wgpu_matches_the_cpu_on_a_tiled_24_megapixel_frame() {
    let Some(gpu) = gpu_developer(BackendChoice::Wgpu) else { return };
    let scratch = Scratch::new("gpu-24mp");
    assert_parity(&gpu, &[tiled_24mp(&scratch)]);
}

#[test]
fn cuda_matches_the_cpu_on_a_tiled_24_megapixel_frame() {
    let Some(gpu) = gpu_developer(BackendChoice::Cuda) else { return };
    let scratch = Scratch::new("gpu-24mp-cuda");
    assert_parity(&gpu, &[tiled_24mp(&scratch)]);
}
