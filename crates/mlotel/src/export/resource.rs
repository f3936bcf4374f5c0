//! The OpenTelemetry resource: who is sending (service, instance, host, process, SDK).

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::TelemetryResourceDetector;

use crate::config::Settings;

/// Builds the resource from the settings plus what can be read off this process and host.
pub(crate) fn build(settings: &Settings) -> Resource {
    let mut attributes = vec![
        KeyValue::new("service.instance.id", uuid::Uuid::new_v4().to_string()),
        KeyValue::new("telemetry.distro.name", "mlotel"),
        KeyValue::new("telemetry.distro.version", env!("CARGO_PKG_VERSION")),
        KeyValue::new("process.pid", i64::from(std::process::id())),
        KeyValue::new("process.runtime.name", "rust"),
        KeyValue::new("host.arch", std::env::consts::ARCH),
        KeyValue::new("os.type", std::env::consts::OS),
    ];
    if let Some(host_name) = sysinfo::System::host_name() {
        attributes.push(KeyValue::new("host.name", host_name));
    }
    if let Some(executable) = std::env::current_exe().ok().and_then(|path| {
        path.file_name()
            .map(|name| name.to_string_lossy().into_owned())
    }) {
        attributes.push(KeyValue::new("process.executable.name", executable));
    }
    if let Some(version) = &settings.service_version {
        attributes.push(KeyValue::new("service.version", version.clone()));
    }
    // Attributes from OTEL_RESOURCE_ATTRIBUTES and the builder come last so they win.
    attributes.extend(
        settings
            .resource_attributes
            .iter()
            .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
    );
    // The SDK's detector reports telemetry.sdk.{name,language,version} from its own build.
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_service_name(settings.service_name.clone())
        .with_attributes(attributes)
        .build()
}
