//! Settings resolution, with an injected environment.
use super::*;

fn env_with(dir: &Path) -> Environment {
    Environment {
        libraries: None,
        default_config: Some(dir.join("missing.toml")),
        default_data_dir: Some(dir.join("default-data")),
        home: Some(PathBuf::from("/home/u")),
    }
}

#[test]
fn defaults_apply_when_nothing_is_given() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = Settings::resolve_with(&Overrides::default(), &env_with(tmp.path())).expect("ok");
    assert_eq!(s.data_dir, tmp.path().join("default-data"));
    assert!(s.libraries.is_empty());
    assert_eq!(s.model, DEMO_MODEL, "the default model is not installed");
    assert_eq!(s.model_source, ModelSource::Demo);
    assert_eq!(s.device, DeviceChoice::Auto);
    assert_eq!(s.precision, PrecisionChoice::Auto);
    assert_eq!(s.config_file, None);
}

#[test]
fn command_line_beats_environment_beats_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("trove.toml");
    std::fs::write(
        &file,
        "data_dir = \"~/trove\"\nlibraries = [\"~/Pictures\"]\nmodel = \"from-file\"\ndevice = \"gpu\"\nprecision = \"fp32\"\naddr = \"0.0.0.0:8080\"\n",
    )
    .expect("write");
    let mut env = env_with(tmp.path());
    let mut args = Overrides {
        config: Some(file.clone()),
        ..Overrides::default()
    };

    let s = Settings::resolve_with(&args, &env).expect("ok");
    assert_eq!(s.data_dir, PathBuf::from("/home/u/trove"));
    assert_eq!(s.libraries, [PathBuf::from("/home/u/Pictures")]);
    assert_eq!(s.model, "from-file");
    assert_eq!(s.device, DeviceChoice::Gpu);
    assert_eq!(s.precision, PrecisionChoice::Fp32);
    assert_eq!(
        s.engine_config().precision,
        trove_models::PrecisionPreference::Fp32
    );
    assert_eq!(s.addr, Some("0.0.0.0:8080".parse().expect("addr")));
    assert_eq!(s.config_file, Some(file));

    env.libraries = Some(std::env::join_paths(["/env/a", "/env/b"]).expect("join"));
    let s = Settings::resolve_with(&args, &env).expect("ok");
    assert_eq!(
        s.libraries,
        [PathBuf::from("/env/a"), PathBuf::from("/env/b")]
    );

    args.libraries = vec![PathBuf::from("/cli")];
    args.model = Some("from-cli".into());
    args.device = Some(DeviceChoice::Cpu);
    args.precision = Some(PrecisionChoice::Auto);
    args.data_dir = Some(PathBuf::from("/data"));
    let s = Settings::resolve_with(&args, &env).expect("ok");
    assert_eq!(s.libraries, [PathBuf::from("/cli")]);
    assert_eq!(s.model, "from-cli");
    assert_eq!(s.device, DeviceChoice::Cpu);
    assert_eq!(s.precision, PrecisionChoice::Auto);
    assert_eq!(s.data_dir, PathBuf::from("/data"));
}

#[test]
fn default_config_file_is_read_when_present() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut env = env_with(tmp.path());
    let file = tmp.path().join("config.toml");
    std::fs::write(&file, "model = \"google/siglip-base-patch16-224\"\n").expect("write");
    env.default_config = Some(file);
    let s = Settings::resolve_with(&Overrides::default(), &env).expect("ok");
    assert_eq!(s.model, "google/siglip-base-patch16-224");
}

#[test]
fn a_model_chosen_on_the_web_page_beats_the_file_but_not_the_command_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("trove.toml");
    std::fs::write(&file, "model = \"from-file\"\n").expect("write");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let mut args = Overrides {
        config: Some(file),
        data_dir: Some(data.clone()),
        ..Overrides::default()
    };
    let env = env_with(tmp.path());
    let s = Settings::resolve_with(&args, &env).expect("ok");
    assert_eq!(
        (s.model.as_str(), s.model_source),
        ("from-file", ModelSource::Chosen)
    );

    save_model_choice(&data, "owner/picked").expect("save");
    save_model_choice(&data, "owner/picked-again").expect("save over");
    let s = Settings::resolve_with(&args, &env).expect("ok");
    assert_eq!(
        (s.model.as_str(), s.model_source),
        ("owner/picked-again", ModelSource::Saved)
    );

    args.model = Some("from-cli".into());
    let s = Settings::resolve_with(&args, &env).expect("ok");
    assert_eq!(
        (s.model.as_str(), s.model_source),
        ("from-cli", ModelSource::Chosen)
    );
}

#[test]
fn a_missing_explicit_config_file_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let args = Overrides {
        config: Some(tmp.path().join("nope.toml")),
        ..Overrides::default()
    };
    let err = Settings::resolve_with(&args, &env_with(tmp.path())).expect_err("fails");
    assert!(err.to_string().contains("nope.toml"), "{err}");
}

#[test]
fn unknown_keys_in_the_config_file_are_rejected() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("bad.toml");
    std::fs::write(&file, "modle = \"typo\"\n").expect("write");
    let args = Overrides {
        config: Some(file),
        ..Overrides::default()
    };
    let err = Settings::resolve_with(&args, &env_with(tmp.path())).expect_err("fails");
    let chain = format!("{:?}", anyhow_like_chain(&err));
    assert!(chain.contains("modle"), "{chain}");
}

fn anyhow_like_chain(err: &dyn std::error::Error) -> Vec<String> {
    let mut out = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push(e.to_string());
        cur = e.source();
    }
    out
}
