//! The portable GPU backend: the [`Program`] on a wgpu adapter (Vulkan, Metal or DX12),
//! with the compute shaders in `shaders/*.wgsl`. It also runs on software adapters such as
//! Mesa's lavapipe, which is how the shaders are tested on machines without a GPU.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ::wgpu::util::DeviceExt;

use super::program::{Module, Program, GROUP};
use super::{add_lap, Fault, Gpu, Kind, Ran};
use crate::pipeline::StageTime;

/// What one adapter is, for `wedsync doctor` and for choosing.
pub(crate) struct AdapterFound {
    pub adapter: ::wgpu::Adapter,
    pub software: bool,
    pub description: String,
}

/// The device files a hardware GPU driver works through on Linux: a DRM render node
/// (Mesa, AMD, Intel), NVIDIA's own, or WSL's paravirtual GPU.
pub(crate) const DEVICE_FILES: &str = "/dev/dri/renderD*, /dev/nvidia0, /dev/dxg";

/// Whether a hardware GPU may be present. On Linux without any of [`DEVICE_FILES`] only a
/// software rasteriser could answer, which `auto` does not use, and loading the Vulkan
/// loader and its drivers (LLVM, for lavapipe) cost a one-file `wedsync develop` ~50 ms of
/// its ~480 ms. Elsewhere the adapters are always asked.
pub(crate) fn hardware_may_be_present() -> bool {
    !cfg!(target_os = "linux")
        || has_render_node(std::path::Path::new("/dev/dri"))
        || ["/dev/nvidia0", "/dev/dxg"].iter().any(|p| std::path::Path::new(p).exists())
}

/// True when `dri` (normally `/dev/dri`) holds a DRM render node (`renderD128`, …), the
/// device a GPU driver renders and computes through; a display node alone is not one.
pub fn has_render_node(dri: &std::path::Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dri) else { return false };
    entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
}

/// Every Vulkan, Metal and DX12 adapter the system offers, hardware first.
pub(crate) fn adapters() -> Vec<AdapterFound> {
    let backends = ::wgpu::Backends::VULKAN | ::wgpu::Backends::METAL | ::wgpu::Backends::DX12;
    let descriptor = ::wgpu::InstanceDescriptor {
        backends,
        ..::wgpu::InstanceDescriptor::new_without_display_handle_from_env()
    };
    let instance = ::wgpu::Instance::new(descriptor);
    let mut found: Vec<AdapterFound> = pollster::block_on(instance.enumerate_adapters(backends))
        .into_iter()
        .map(|adapter| {
            let info = adapter.get_info();
            let software = info.device_type == ::wgpu::DeviceType::Cpu;
            let memory = adapter.limits().max_buffer_size as f64 / (1u64 << 30) as f64;
            let description = format!(
                "{} ({:?}, {}{}, driver {} {}, buffers up to {memory:.1} GiB)",
                info.name,
                info.backend,
                if software { "software" } else { "hardware" },
                match info.device_type {
                    ::wgpu::DeviceType::DiscreteGpu => " discrete",
                    ::wgpu::DeviceType::IntegratedGpu => " integrated",
                    _ => "",
                },
                info.driver,
                info.driver_info,
            );
            AdapterFound { adapter, software, description }
        })
        .collect();
    found.sort_by_key(|a| a.software);
    found
}

pub(crate) struct WgpuBackend {
    device: ::wgpu::Device,
    queue: ::wgpu::Queue,
    pipelines: HashMap<&'static str, ::wgpu::ComputePipeline>,
    description: String,
    lost: Arc<AtomicBool>,
    fault: Fault,
    pool: BufferPool,
    /// Nanoseconds per tick of the GPU's clock, where the adapter offers timestamp queries
    /// (timed runs then read each pass's time on it).
    timestamp_period: Option<f32>,
}

/// Device buffers kept from one run for the next. A batch's frames come from one camera,
/// so every run asks for the sizes the last one freed: taking those back saves allocating
/// (and the driver zeroing) hundreds of megabytes per image.
struct BufferPool {
    free: Mutex<Vec<::wgpu::Buffer>>,
    /// Bytes the pool may hold while no run uses them.
    cap: u64,
}

impl BufferPool {
    /// A free buffer of exactly this size and usage, else a new one; and whether it was
    /// taken from the pool (its contents are then the last run's).
    fn take(
        &self,
        device: &::wgpu::Device,
        size: u64,
        usage: ::wgpu::BufferUsages,
    ) -> (::wgpu::Buffer, bool) {
        if let Ok(mut free) = self.free.lock() {
            if let Some(i) = free.iter().position(|b| b.size() == size && b.usage() == usage) {
                return (free.swap_remove(i), true);
            }
        }
        let descriptor = ::wgpu::BufferDescriptor { label: None, size, usage, mapped_at_creation: false };
        (device.create_buffer(&descriptor), false)
    }

    /// Keeps `buffers` for the next run, dropping the oldest beyond the cap.
    fn keep(&self, buffers: impl IntoIterator<Item = ::wgpu::Buffer>) {
        let Ok(mut free) = self.free.lock() else { return };
        free.extend(buffers);
        while free.iter().map(|b| b.size()).sum::<u64>() > self.cap {
            free.remove(0);
        }
    }
}

impl WgpuBackend {
    /// A device on `found` with every kernel compiled.
    pub(crate) fn open(found: &AdapterFound, fault: Fault) -> Result<WgpuBackend, String> {
        let adapter = &found.adapter;
        let timestamps = adapter.features().contains(::wgpu::Features::TIMESTAMP_QUERY);
        // The adapter's own limits rather than the defaults: a 45 MP frame's planes are far
        // larger than the 128 MiB storage binding that every adapter must offer.
        let descriptor = ::wgpu::DeviceDescriptor {
            label: Some("wedsync develop"),
            required_features: if timestamps {
                ::wgpu::Features::TIMESTAMP_QUERY
            } else {
                ::wgpu::Features::empty()
            },
            required_limits: adapter.limits(),
            memory_hints: ::wgpu::MemoryHints::Performance,
            ..Default::default()
        };
        let (device, queue) =
            pollster::block_on(adapter.request_device(&descriptor)).map_err(|e| format!("no device: {e}"))?;
        // Errors are caught by the error scopes of each call; without a handler an error
        // outside them would abort the process, where a lost GPU must only cost a fallback.
        device.on_uncaptured_error(Arc::new(|error| eprintln!("wgpu: {error}")));
        let lost = Arc::new(AtomicBool::new(false));
        let flag = lost.clone();
        device.set_device_lost_callback(move |_, message| {
            eprintln!("wgpu: device lost: {message}");
            flag.store(true, Ordering::SeqCst);
        });
        let scope = device.push_error_scope(::wgpu::ErrorFilter::Validation);
        let mut pipelines = HashMap::new();
        for module in Module::ALL {
            let shader = device.create_shader_module(::wgpu::ShaderModuleDescriptor {
                label: Some(module.name()),
                source: ::wgpu::ShaderSource::Wgsl(module.wgsl().into()),
            });
            for &entry in module.entries() {
                let pipeline = device.create_compute_pipeline(&::wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: None,
                    module: &shader,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                });
                pipelines.insert(entry, pipeline);
            }
        }
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(format!("the shaders do not compile: {error}"));
        }
        // Half the memory budget may sit idle in the pool: a 24 MP frame's buffers fit.
        let pool = BufferPool { free: Mutex::new(Vec::new()), cap: memory_budget(&device) as u64 / 2 };
        let timestamp_period = timestamps.then(|| queue.get_timestamp_period());
        Ok(WgpuBackend {
            device,
            queue,
            pipelines,
            description: found.description.clone(),
            lost,
            fault,
            pool,
            timestamp_period,
        })
    }

    fn wait(&self) -> Result<(), String> {
        self.device.poll(::wgpu::PollType::wait_indefinitely()).map(|_| ()).map_err(|e| e.to_string())
    }

    fn execute(&self, program: &Program, timed: bool) -> Result<Ran, String> {
        let mut timings: Vec<StageTime> = Vec::new();
        let mut clock = Instant::now();
        let mut lap = |name: &'static str, clock: &mut Instant| {
            add_lap(&mut timings, name, clock.elapsed().as_secs_f64() * 1e3, None);
            *clock = Instant::now();
        };
        // Two timestamps per pass, at its start and end, when timed and the adapter has them.
        let queries = match (timed, self.timestamp_period) {
            (true, Some(_)) if !program.passes.is_empty() => {
                Some(self.device.create_query_set(&::wgpu::QuerySetDescriptor {
                    label: Some("pass times"),
                    ty: ::wgpu::QueryType::Timestamp,
                    count: 2 * program.passes.len() as u32,
                }))
            }
            _ => None,
        };
        let usage =
            ::wgpu::BufferUsages::STORAGE | ::wgpu::BufferUsages::COPY_DST | ::wgpu::BufferUsages::COPY_SRC;
        let mut encoder = self.device.create_command_encoder(&Default::default());
        let buffers: Vec<::wgpu::Buffer> = program
            .buffers
            .iter()
            .map(|b| {
                let (buffer, reused) = self.pool.take(&self.device, b.bytes as u64, usage);
                match &b.init {
                    // An input fills its buffer whole (program.rs sizes it so).
                    Some(bytes) => self.queue.write_buffer(&buffer, 0, bytes),
                    // wgpu zeroes new buffers; a reused one is cleared too, so that no run can
                    // read the last image's data (today's kernels write all they read: a
                    // memset is cheap insurance for tomorrow's).
                    None if reused => encoder.clear_buffer(&buffer, 0, None),
                    None => {}
                }
                buffer
            })
            .collect();
        if timed {
            let done =
                std::mem::replace(&mut encoder, self.device.create_command_encoder(&Default::default()));
            self.queue.submit([done.finish()]);
            self.wait()?;
            lap("upload", &mut clock);
        }
        for (i, pass) in program.passes.iter().enumerate() {
            let pipeline =
                self.pipelines.get(pass.entry).ok_or_else(|| format!("no kernel {}", pass.entry))?;
            let params = self.device.create_buffer_init(&::wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytemuck::cast_slice(&pass.params),
                usage: ::wgpu::BufferUsages::STORAGE,
            });
            let mut entries =
                vec![::wgpu::BindGroupEntry { binding: 0, resource: params.as_entire_binding() }];
            entries.extend(pass.bindings.iter().map(|&(binding, id)| ::wgpu::BindGroupEntry {
                binding,
                resource: buffers[id].as_entire_binding(),
            }));
            let bind_group = self.device.create_bind_group(&::wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            });
            {
                let timestamp_writes = queries.as_ref().map(|set| ::wgpu::ComputePassTimestampWrites {
                    query_set: set,
                    beginning_of_pass_write_index: Some(2 * i as u32),
                    end_of_pass_write_index: Some(2 * i as u32 + 1),
                });
                let mut cpass = encoder
                    .begin_compute_pass(&::wgpu::ComputePassDescriptor { label: None, timestamp_writes });
                cpass.set_pipeline(pipeline);
                cpass.set_bind_group(0, &bind_group, &[]);
                cpass.dispatch_workgroups(
                    pass.threads[0].div_ceil(GROUP),
                    pass.threads[1].div_ceil(GROUP),
                    1,
                );
            }
            let stage_ends = program.passes.get(i + 1).is_none_or(|next| next.stage != pass.stage);
            if timed && stage_ends {
                let done =
                    std::mem::replace(&mut encoder, self.device.create_command_encoder(&Default::default()));
                self.queue.submit([done.finish()]);
                self.wait()?;
                lap(pass.stage.name(), &mut clock);
            }
        }
        let staging: Vec<::wgpu::Buffer> = program
            .outputs
            .iter()
            .map(|out| {
                let size = program.buffers[out.buffer].bytes as u64;
                let usage = ::wgpu::BufferUsages::MAP_READ | ::wgpu::BufferUsages::COPY_DST;
                let (buffer, _) = self.pool.take(&self.device, size, usage);
                encoder.copy_buffer_to_buffer(&buffers[out.buffer], 0, &buffer, 0, size);
                buffer
            })
            .collect();
        let ticks = queries.as_ref().map(|set| {
            let bytes = 16 * program.passes.len() as u64;
            let resolved = self.device.create_buffer(&::wgpu::BufferDescriptor {
                label: None,
                size: bytes,
                usage: ::wgpu::BufferUsages::QUERY_RESOLVE | ::wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            encoder.resolve_query_set(set, 0..2 * program.passes.len() as u32, &resolved, 0);
            let read = self.device.create_buffer(&::wgpu::BufferDescriptor {
                label: None,
                size: bytes,
                usage: ::wgpu::BufferUsages::MAP_READ | ::wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            encoder.copy_buffer_to_buffer(&resolved, 0, &read, 0, bytes);
            read
        });
        self.queue.submit([encoder.finish()]);
        let (sender, mapped) = std::sync::mpsc::channel();
        for buffer in staging.iter().chain(&ticks) {
            let sender = sender.clone();
            buffer.slice(..).map_async(::wgpu::MapMode::Read, move |result| {
                let _ = sender.send(result);
            });
        }
        self.wait()?;
        // A buffer that failed (out of memory, device lost) cannot be read: say why instead.
        for result in mapped.try_iter() {
            result.map_err(|e| format!("reading the result back: {e}"))?;
        }
        let mut outputs = Vec::with_capacity(staging.len());
        for (buffer, out) in staging.iter().zip(&program.outputs) {
            let view =
                buffer.slice(..).get_mapped_range().map_err(|e| format!("reading the result back: {e}"))?;
            outputs.push(view[..out.width * out.height * 3].to_vec());
            drop(view);
            buffer.unmap();
        }
        if timed {
            lap("download", &mut clock);
        }
        if let (Some(read), Some(period)) = (&ticks, self.timestamp_period) {
            let view =
                read.slice(..).get_mapped_range().map_err(|e| format!("reading the timestamps: {e}"))?;
            let ticks: &[u64] = bytemuck::cast_slice(&view);
            add_pass_times(&mut timings, program, ticks, period);
        }
        self.pool.keep(buffers.into_iter().chain(staging));
        Ok(Ran { outputs, timings })
    }
}

/// Each stage's device time: the sum of its passes' spans between their two timestamps.
fn add_pass_times(timings: &mut [StageTime], program: &Program, ticks: &[u64], period: f32) {
    for t in timings.iter_mut() {
        let spans: Vec<u64> = (0..program.passes.len())
            .filter(|&i| program.passes[i].stage.name() == t.name)
            .map(|i| {
                ticks
                    .get(2 * i + 1)
                    .zip(ticks.get(2 * i))
                    .map_or(0, |(end, start)| end.saturating_sub(*start))
            })
            .collect();
        t.device_ms = (!spans.is_empty()).then(|| spans.iter().sum::<u64>() as f64 * f64::from(period) / 1e6);
    }
}

/// wgpu does not tell how much memory an adapter has; its largest buffer is a floor.
fn memory_budget(device: &::wgpu::Device) -> usize {
    (device.limits().max_buffer_size as usize).max(2 << 30)
}

impl Gpu for WgpuBackend {
    fn kind(&self) -> Kind {
        Kind::Wgpu
    }

    fn description(&self) -> String {
        self.description.clone()
    }

    fn memory_budget(&self) -> usize {
        memory_budget(&self.device)
    }

    fn fits(&self, program: &Program) -> Result<(), String> {
        let limit = self.device.limits().max_storage_buffer_binding_size as usize;
        match program.buffers.iter().map(|b| b.bytes).max().filter(|&b| b > limit) {
            Some(largest) => Err(format!(
                "the frame needs {} MB in one buffer, more than this adapter binds ({} MB)",
                largest >> 20,
                limit >> 20
            )),
            None => Ok(()),
        }
    }

    fn run(&self, program: &Program, timed: bool) -> Result<Ran, String> {
        self.fault.check()?;
        if self.lost.load(Ordering::SeqCst) {
            return Err("the device was lost".into());
        }
        let oom = self.device.push_error_scope(::wgpu::ErrorFilter::OutOfMemory);
        let invalid = self.device.push_error_scope(::wgpu::ErrorFilter::Validation);
        let ran = self.execute(program, timed);
        let invalid = pollster::block_on(invalid.pop());
        let oom = pollster::block_on(oom.pop());
        if let Some(error) = oom.or(invalid) {
            return Err(error.to_string());
        }
        if self.lost.load(Ordering::SeqCst) {
            return Err("the device was lost".into());
        }
        ran
    }
}
