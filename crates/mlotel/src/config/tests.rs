use super::*;

fn resolve_env(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    resolve(
        &CodeSettings::default(),
        &Env::from_pairs(pairs.iter().copied()),
    )
}

fn resolved(pairs: &[(&str, &str)]) -> Settings {
    resolve_env(pairs).expect("valid configuration")
}

fn error(pairs: &[(&str, &str)]) -> ConfigError {
    resolve_env(pairs).expect_err("invalid configuration")
}

#[test]
fn defaults_follow_the_specification() {
    let settings = resolved(&[]);
    let traces = settings.traces.expect("traces exported by default");
    assert_eq!(traces.protocol, Protocol::HttpProtobuf);
    assert_eq!(traces.endpoint, "http://localhost:4318/v1/traces");
    assert_eq!(traces.timeout, Duration::from_secs(10));
    assert!(settings.prometheus);
    assert!(settings.logs.is_none(), "OTLP logs are opt-in");
    assert_eq!(settings.sampler, Sampler::ParentBasedAlwaysOn);
    assert_eq!(settings.metric_export_interval, Duration::from_secs(60));
    assert_eq!(settings.span_schedule_delay, None);
    assert!(settings.service_name.starts_with("unknown_service:"));
    assert_eq!(settings.span_limits, SpanLimitSettings::default());
    assert_eq!(settings.span_limits.attribute_value_length, None);
    assert_eq!(settings.span_limits.attribute_count, 128);
    assert_eq!(settings.span_queue_capacity, 2048);
    assert_eq!(settings.shutdown_timeout, Duration::from_secs(5));
}

#[test]
fn span_limits_prefer_the_span_variable_to_the_general_one() {
    let settings = resolved(&[
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "40"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "30"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "0"),
        ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "7"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
    ]);
    let limits = settings.span_limits;
    assert_eq!(limits.attribute_value_length, Some(100));
    assert_eq!(limits.attribute_count, 30);
    assert_eq!(limits.event_count, 0);
    assert_eq!(limits.link_attribute_count, 7);
    assert_eq!(limits.event_attribute_count, 128);
    assert_eq!(settings.span_queue_capacity, 64);
    let settings = resolved(&[
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20"),
    ]);
    assert_eq!(settings.span_limits.attribute_value_length, Some(20));
}

#[test]
fn generic_http_endpoint_gets_the_signal_path_and_specific_one_is_used_as_is() {
    let settings = resolved(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "http://other:9000/custom",
        ),
    ]);
    assert_eq!(
        settings.traces.expect("traces").endpoint,
        "http://collector:4318/v1/traces"
    );
    assert_eq!(
        settings.metrics.expect("metrics").endpoint,
        "http://other:9000/custom"
    );
}

#[test]
fn grpc_endpoint_is_used_as_is_and_signal_protocol_overrides_generic() {
    let settings = resolved(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
    ]);
    let traces = settings.traces.expect("traces");
    assert_eq!(traces.protocol, Protocol::Grpc);
    assert_eq!(traces.endpoint, "http://collector:4317");
    let metrics = settings.metrics.expect("metrics");
    assert_eq!(metrics.protocol, Protocol::HttpProtobuf);
    assert_eq!(metrics.endpoint, "http://collector:4317/v1/metrics");
}

#[test]
fn environment_overrides_code() {
    let code = CodeSettings {
        service_name: Some("from-code".into()),
        endpoint: Some("http://code:4318".into()),
        ..CodeSettings::default()
    };
    let env = Env::from_pairs([
        ("OTEL_SERVICE_NAME", "from-env"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318"),
    ]);
    let settings = resolve(&code, &env).expect("valid");
    assert_eq!(settings.service_name, "from-env");
    assert_eq!(
        settings.traces.expect("traces").endpoint,
        "http://env:4318/v1/traces"
    );
    let settings = resolve(&code, &Env::default()).expect("valid");
    assert_eq!(settings.service_name, "from-code");
}

#[test]
fn headers_are_percent_decoded_and_signal_headers_win() {
    let settings = resolved(&[
        ("OTEL_EXPORTER_OTLP_HEADERS", "X-Api-Key=abc%20def,tenant=a"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "tenant=b"),
    ]);
    let traces = settings.traces.expect("traces");
    assert_eq!(
        traces.headers,
        vec![
            ("x-api-key".to_owned(), "abc def".to_owned()),
            ("tenant".to_owned(), "b".to_owned())
        ]
    );
    let metrics = settings.metrics.expect("metrics");
    assert!(
        metrics
            .headers
            .contains(&("tenant".to_owned(), "a".to_owned()))
    );
}

#[test]
fn resource_attributes_and_service_name_precedence() {
    let settings = resolved(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=from-resource,deployment.environment.name=prod,service.version=1.2",
    )]);
    assert_eq!(settings.service_name, "from-resource");
    assert_eq!(settings.service_version.as_deref(), Some("1.2"));
    assert_eq!(
        settings.resource_attributes,
        vec![("deployment.environment.name".to_owned(), "prod".to_owned())]
    );
    let settings = resolved(&[
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-resource"),
        ("OTEL_SERVICE_NAME", "explicit"),
    ]);
    assert_eq!(settings.service_name, "explicit");
}

#[test]
fn exporters_none_and_prometheus_only() {
    let settings = resolved(&[
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "prometheus"),
    ]);
    assert!(settings.traces.is_none());
    assert!(settings.metrics.is_none());
    assert!(settings.prometheus);
    let settings = resolved(&[("OTEL_METRICS_EXPORTER", "none")]);
    assert!(settings.metrics.is_none() && !settings.prometheus);
}

#[test]
fn sdk_disabled_turns_every_exporter_off() {
    let settings = resolved(&[("OTEL_SDK_DISABLED", "TRUE")]);
    assert!(settings.sdk_disabled);
    assert!(settings.traces.is_none() && settings.metrics.is_none() && !settings.prometheus);
    let settings = resolved(&[("OTEL_SDK_DISABLED", "yes")]);
    assert!(!settings.sdk_disabled);
    assert_eq!(settings.warnings.len(), 1);
}

#[test]
fn samplers_and_their_arguments() {
    let settings = resolved(&[
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
    ]);
    assert_eq!(settings.sampler, Sampler::ParentBasedTraceIdRatio(0.25));
    assert_eq!(
        resolved(&[("OTEL_TRACES_SAMPLER", "traceidratio")]).sampler,
        Sampler::TraceIdRatio(1.0)
    );
    assert_eq!(
        resolved(&[("OTEL_TRACES_SAMPLER", "always_off")]).sampler,
        Sampler::AlwaysOff
    );
}

#[test]
fn invalid_values_name_the_variable_and_the_value() {
    /// Environment, then the variable and the value the error must name.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "localhost:4317",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "ftp://x",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://")],
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "udp")],
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "udp",
        ),
        (
            &[
                ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json"),
                ("OTEL_LOGS_EXPORTER", "otlp"),
            ],
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
            "http/json",
        ),
        (
            &[("OTEL_TRACES_SAMPLER", "sometimes")],
            "OTEL_TRACES_SAMPLER",
            "sometimes",
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
            ],
            "OTEL_TRACES_SAMPLER_ARG",
            "1.5",
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "half"),
            ],
            "OTEL_TRACES_SAMPLER_ARG",
            "half",
        ),
        (
            &[("OTEL_METRIC_EXPORT_INTERVAL", "10s")],
            "OTEL_METRIC_EXPORT_INTERVAL",
            "10s",
        ),
        (
            &[("OTEL_BSP_SCHEDULE_DELAY", "soon")],
            "OTEL_BSP_SCHEDULE_DELAY",
            "soon",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TIMEOUT", "0")],
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "0",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_HEADERS", "novalue")],
            "OTEL_EXPORTER_OTLP_HEADERS",
            "(hidden)",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_HEADERS", "bad header=1")],
            "OTEL_EXPORTER_OTLP_HEADERS",
            "bad header",
        ),
        (
            &[("OTEL_RESOURCE_ATTRIBUTES", "a=%zz")],
            "OTEL_RESOURCE_ATTRIBUTES",
            "a=%zz",
        ),
        (
            &[("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1")],
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "-1",
        ),
        (
            &[("OTEL_BSP_MAX_QUEUE_SIZE", "0")],
            "OTEL_BSP_MAX_QUEUE_SIZE",
            "0",
        ),
        (
            &[("OTEL_TRACES_EXPORTER", "zipkin")],
            "OTEL_TRACES_EXPORTER",
            "zipkin",
        ),
        (
            &[("OTEL_TRACES_EXPORTER", "prometheus")],
            "OTEL_TRACES_EXPORTER",
            "prometheus",
        ),
    ];
    for (env, variable, value) in cases {
        let error = error(env);
        assert_eq!(error.source_name, *variable, "{env:?}");
        assert_eq!(error.value, *value, "{env:?}");
        let message = error.to_string();
        assert!(
            message.contains(variable) && message.contains(value),
            "{message}"
        );
    }
}

#[test]
fn errors_never_quote_credentials() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "ftp://user:s3cret@host:4318?key=k3y",
            )],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ),
        (
            &[(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://user:s3cret@host/v1/traces",
            )],
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ),
        (
            &[(
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Bearer s3cret,k3y",
            )],
            "OTEL_EXPORTER_OTLP_HEADERS",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cret%zz")],
            "OTEL_EXPORTER_OTLP_HEADERS",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cret\u{7f}")],
            "OTEL_EXPORTER_OTLP_HEADERS",
        ),
    ];
    for (pairs, variable) in cases {
        let error = error(pairs);
        assert_eq!(error.source_name, *variable);
        let shown = error.to_string();
        assert!(
            !shown.contains("s3cret") && !shown.contains("k3y"),
            "{variable}: {shown}"
        );
    }
    // The endpoint itself keeps user info and query: the exporter needs them.
    let settings = resolved(&[(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "http://user:s3cret@collector:4318",
    )]);
    assert_eq!(
        settings.traces.expect("traces").endpoint,
        "http://user:s3cret@collector:4318/v1/traces"
    );
}

#[test]
fn empty_variables_count_as_unset() {
    let settings = resolved(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
        ("OTEL_SERVICE_NAME", " "),
    ]);
    assert_eq!(
        settings.traces.expect("traces").endpoint,
        "http://localhost:4318/v1/traces"
    );
}
