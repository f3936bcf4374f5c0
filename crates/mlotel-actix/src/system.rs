//! [`SystemSampler`]: process and host saturation sampled with `sysinfo` on a background
//! thread, reported as the semantic-convention `process.*` and `system.*` gauges.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use mlotel::names::{self, InstrumentSpec, attr};
use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// Default time between two samples.
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_secs(5);

/// One sample of the process and the host.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct SystemSample {
    /// When it was taken.
    pub taken_at: SystemTime,
    /// Process id.
    pub pid: u32,
    /// Resident memory of the process, bytes.
    pub process_memory_bytes: u64,
    /// CPU of the process over the last interval, as a share of the CPUs available to it
    /// (`std::thread::available_parallelism`: its affinity and cgroup quota), 0 to 1.
    pub process_cpu_utilization: f64,
    /// CPU of the process over the last interval in percent of one CPU (`top`'s figure).
    pub process_cpu_percent: f64,
    /// Seconds since the process started.
    pub process_uptime_seconds: u64,
    /// When the process started.
    pub process_started_at: SystemTime,
    /// Threads of the process (`None` where the platform does not tell: not Linux).
    pub process_threads: Option<u64>,
    /// Busy share of all CPUs of the host over the last interval (0 to 1).
    pub system_cpu_utilization: f64,
    /// Memory in use on the host, bytes.
    pub system_memory_bytes: u64,
}

type Latest = Arc<Mutex<Option<SystemSample>>>;

fn latest(shared: &Latest) -> Option<SystemSample> {
    *shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Samples the process and host every interval on a thread of its own and reports the
/// latest sample through the `process.cpu.utilization`, `process.memory.usage`,
/// `process.uptime`, `process.thread.count`, `system.cpu.utilization` and
/// `system.memory.usage` gauges (see `docs/metrics.md`). Dropping it stops the thread;
/// the gauges then report nothing.
#[derive(Debug)]
pub struct SystemSampler {
    latest: Latest,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl SystemSampler {
    /// Starts sampling every [`DEFAULT_SAMPLE_INTERVAL`] into gauges on `meter`
    /// (`telemetry.meter()`).
    pub fn start(meter: &Meter) -> std::io::Result<Self> {
        Self::with_interval(meter, DEFAULT_SAMPLE_INTERVAL)
    }

    /// Starts sampling every `interval` (at least `sysinfo`'s 200 ms between CPU readings).
    /// The first sample comes 200 ms after the start: CPU figures are differences between
    /// two readings.
    pub fn with_interval(meter: &Meter, interval: Duration) -> std::io::Result<Self> {
        let interval = interval.max(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        let shared: Latest = Arc::new(Mutex::new(None));
        let (stop, stopped) = mpsc::channel::<()>();
        let writer = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("mlotel-sampler".to_owned())
            .spawn(move || {
                let mut probe = Probe::new();
                // The first reading only primes the CPU differences.
                match stopped.recv_timeout(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
                loop {
                    let sample = probe.sample();
                    *writer
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) = sample;
                    match stopped.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            })?;
        register_gauges(meter, &shared);
        Ok(Self {
            latest: shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The latest sample, if one was taken.
    pub fn latest(&self) -> Option<SystemSample> {
        latest(&self.latest)
    }

    /// A cheap, cloneable reader of the latest sample (for health endpoints).
    pub fn reader(&self) -> SampleReader {
        SampleReader(Arc::clone(&self.latest))
    }
}

impl Drop for SystemSampler {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        *self
            .latest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }
}

/// Reads the latest sample of a [`SystemSampler`]; `None` once the sampler is dropped.
#[derive(Debug, Clone)]
pub struct SampleReader(Latest);

impl SampleReader {
    /// The latest sample, if any.
    pub fn latest(&self) -> Option<SystemSample> {
        latest(&self.0)
    }
}

fn register_gauges(meter: &Meter, shared: &Latest) {
    let f64_gauge = |spec: InstrumentSpec, read: fn(&SystemSample) -> f64| {
        let shared = Arc::clone(shared);
        let _gauge = meter
            .f64_observable_gauge(spec.name)
            .with_unit(spec.unit)
            .with_description(spec.description)
            .with_callback(move |observer| {
                if let Some(sample) = latest(&shared) {
                    observer.observe(read(&sample), &[]);
                }
            })
            .build();
    };
    let u64_gauge = |spec: InstrumentSpec,
                     attributes: &'static [(&'static str, &'static str)],
                     read: fn(&SystemSample) -> Option<u64>| {
        let attributes: Vec<KeyValue> = attributes
            .iter()
            .map(|&(key, value)| KeyValue::new(key, value))
            .collect();
        let shared = Arc::clone(shared);
        let _gauge = meter
            .u64_observable_gauge(spec.name)
            .with_unit(spec.unit)
            .with_description(spec.description)
            .with_callback(move |observer| {
                if let Some(value) = latest(&shared).as_ref().and_then(read) {
                    observer.observe(value, &attributes);
                }
            })
            .build();
    };
    f64_gauge(names::PROCESS_CPU_UTILIZATION, |s| {
        s.process_cpu_utilization
    });
    u64_gauge(names::PROCESS_MEMORY_USAGE, &[], |s| {
        Some(s.process_memory_bytes)
    });
    u64_gauge(names::PROCESS_UPTIME, &[], |s| {
        Some(s.process_uptime_seconds)
    });
    u64_gauge(names::PROCESS_THREAD_COUNT, &[], |s| s.process_threads);
    f64_gauge(names::SYSTEM_CPU_UTILIZATION, |s| s.system_cpu_utilization);
    u64_gauge(
        names::SYSTEM_MEMORY_USAGE,
        &[(attr::SYSTEM_MEMORY_STATE, "used")],
        |s| Some(s.system_memory_bytes),
    );
}

/// The sampler thread's `sysinfo` state (CPU figures are differences between refreshes).
struct Probe {
    system: System,
    pid: Option<Pid>,
}

impl Probe {
    /// Takes the first reading, which the CPU figures of the first sample are measured from.
    fn new() -> Self {
        let mut probe = Self {
            system: System::new(),
            pid: sysinfo::get_current_pid().ok(),
        };
        let _ = probe.sample();
        probe
    }

    fn sample(&mut self) -> Option<SystemSample> {
        let pid = self.pid?;
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            true,
            ProcessRefreshKind::nothing()
                .with_cpu()
                .with_memory()
                .with_tasks(),
        );
        let cpus =
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) as f64;
        let process = self.system.process(pid)?;
        let cpu_percent = f64::from(process.cpu_usage());
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(process.start_time());
        Some(SystemSample {
            taken_at: SystemTime::now(),
            pid: pid.as_u32(),
            process_memory_bytes: process.memory(),
            process_cpu_utilization: (cpu_percent / 100.0 / cpus).clamp(0.0, 1.0),
            process_cpu_percent: cpu_percent,
            process_uptime_seconds: process.run_time(),
            process_started_at: started,
            // sysinfo lists the threads other than the main one.
            process_threads: process.tasks().map(|tasks| tasks.len() as u64 + 1),
            system_cpu_utilization: (f64::from(self.system.global_cpu_usage()) / 100.0)
                .clamp(0.0, 1.0),
            system_memory_bytes: self.system.used_memory(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_plausible_and_the_thread_stops_on_drop() {
        let meter = opentelemetry::global::meter("test");
        let sampler = SystemSampler::with_interval(&meter, Duration::from_millis(100))
            .expect("sampler thread starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let sample = loop {
            if let Some(sample) = sampler.latest() {
                break sample;
            }
            assert!(std::time::Instant::now() < deadline, "no sample in 10 s");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(sample.process_memory_bytes > 0);
        if cfg!(target_os = "linux") {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let threads: Option<u64> = status
                .lines()
                .find_map(|line| line.strip_prefix("Threads:"))
                .and_then(|count| count.trim().parse().ok());
            let (sampled, now) = (sample.process_threads.unwrap_or(0), threads.unwrap_or(0));
            // Other tests' threads may start or stop between the two readings.
            assert!(
                sampled.abs_diff(now) <= 4,
                "sampled {sampled} threads, /proc says {now}"
            );
        }
        assert!(sample.system_memory_bytes > 0);
        assert_eq!(sample.pid, std::process::id());
        let reader = sampler.reader();
        drop(sampler);
        assert_eq!(reader.latest(), None, "dropped sampler reports nothing");
    }
}
