//! Where settings come from: flags over the environment over
//! `callvault.toml` over defaults; secrets from files; an unknown key refused
//! by name. Observed through `callvault doctor`, whose credentials check
//! passes only when the winning value is the sandbox's.

use crate::doctor::{callvault, doctor, rc_env, sandbox};

fn value(env: &[(&'static str, String)], key: &str) -> String {
    env.iter().find(|(k, _)| *k == key).unwrap().1.clone()
}

fn credentials(checks: &serde_json::Value) -> &str {
    checks["credentials"]["outcome"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_beat_the_environment_which_beats_the_file() {
    // Arrange: the right client id at one level, a wrong one below or above.
    let s = sandbox(|_| {}).await;
    let rc = rc_env(&s);
    let right = value(&rc, "RC_CLIENT_ID");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let others: Vec<(&str, String)> = rc
        .iter()
        .filter(|(k, _)| *k != "RC_CLIENT_ID")
        .cloned()
        .collect();
    let file_with = |id: &str| {
        // Found beside --data, no --config needed.
        std::fs::write(
            data.join("callvault.toml"),
            format!("[rc]\nclient_id = \"{id}\"\n"),
        )
        .unwrap();
    };
    let env_with = |id: &str| {
        let mut e = others.clone();
        e.push(("RC_CLIENT_ID", id.to_owned()));
        e
    };

    // File only.
    file_with(&right);
    assert_eq!(
        credentials(&doctor(&data, &[], &others).1),
        "ok",
        "the file's value is used"
    );
    // The environment over the file, both ways round.
    file_with("wrong-from-file");
    assert_eq!(
        credentials(&doctor(&data, &[], &env_with(&right)).1),
        "ok",
        "env over file"
    );
    file_with(&right);
    assert_eq!(
        credentials(&doctor(&data, &[], &env_with("wrong-from-env")).1),
        "fail",
        "env over file"
    );
    // A flag over the environment, both ways round, by its new and old names.
    let flag = format!("--rc-client-id={right}");
    assert_eq!(
        credentials(&doctor(&data, &[&flag], &env_with("wrong-from-env")).1),
        "ok",
        "flag over env"
    );
    assert_eq!(
        credentials(
            &doctor(
                &data,
                &["--client-id", "wrong-from-flag"],
                &env_with(&right)
            )
            .1
        ),
        "fail",
        "flag over env"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_come_from_files_as_systemd_and_kubernetes_provide_them() {
    let s = sandbox(|_| {}).await;
    let rc = rc_env(&s);
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    std::fs::create_dir_all(&creds).unwrap();
    // With the trailing newline `echo` and editors leave.
    std::fs::write(creds.join("jwt"), format!("{}\n", value(&rc, "RC_JWT"))).unwrap();
    std::fs::write(
        creds.join("client-secret"),
        format!("{}\n", value(&rc, "RC_CLIENT_SECRET")),
    )
    .unwrap();
    let catalog = dir.path().join("elsewhere.sqlite");
    std::fs::write(
        creds.join("database"),
        format!("sqlite:{}?mode=rwc\n", catalog.display()),
    )
    .unwrap();
    let plain: Vec<(&str, String)> = rc
        .iter()
        .filter(|(k, _)| !matches!(*k, "RC_JWT" | "RC_CLIENT_SECRET"))
        .cloned()
        .collect();

    // The environment's *_FILE names.
    let mut env = plain.clone();
    env.push(("RC_JWT_FILE", creds.join("jwt").display().to_string()));
    env.push((
        "RC_CLIENT_SECRET_FILE",
        creds.join("client-secret").display().to_string(),
    ));
    env.push((
        "CALLVAULT_DATABASE_FILE",
        creds.join("database").display().to_string(),
    ));
    let (ok, checks) = doctor(&dir.path().join("data"), &[], &env);
    assert!(ok, "{checks:#}");
    assert!(catalog.exists(), "the catalog URL came from its file");

    // The file's *_file keys, relative to the file, with --config.
    let config = dir.path().join("callvault.toml");
    std::fs::write(
        &config,
        "[rc]\njwt_file = \"credentials/jwt\"\nclient_secret_file = \"credentials/client-secret\"\n",
    )
    .unwrap();
    let config_flag = format!("--config={}", config.display());
    let (ok, checks) = doctor(&dir.path().join("data"), &[&config_flag], &plain);
    assert!(ok, "{checks:#}");

    // The --…-file flags, over a wrong value in the environment.
    let mut wrong = plain.clone();
    wrong.push(("RC_JWT", "wrong".into()));
    wrong.push(("RC_CLIENT_SECRET", "wrong".into()));
    let jwt_flag = format!("--rc-jwt-file={}", creds.join("jwt").display());
    let secret_flag = format!(
        "--rc-client-secret-file={}",
        creds.join("client-secret").display()
    );
    let (ok, checks) = doctor(&dir.path().join("data"), &[&jwt_flag, &secret_flag], &wrong);
    assert!(ok, "{checks:#}");

    // A secret and its file at the same level is ambiguous: refused.
    let mut both = env.clone();
    both.push(("RC_JWT", value(&rc, "RC_JWT")));
    let out = callvault(&["doctor"], &both);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RC_JWT and RC_JWT_FILE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_key_is_refused_by_name_and_the_shipped_example_parses() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("callvault.toml");
    std::fs::write(&config, "[rc]\nclient_idd = \"x\"\n").unwrap();
    let out = callvault(&["status", "--config", config.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown field `client_idd`") && err.contains("callvault.toml"),
        "{err}"
    );

    // The annotated example is a valid file whose every key is a setting:
    // `status` reads it (its secret files do not exist here, so point them
    // at one that does).
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/callvault.example.toml"
    ))
    .unwrap();
    std::fs::write(dir.path().join("secret"), "x\n").unwrap();
    let secret = dir.path().join("secret").display().to_string();
    let local: String = example
        .lines()
        .map(|l| match l.split_once(" = ") {
            Some((k, _)) if k.trim_start().ends_with("_file") => format!("{k} = \"{secret}\""),
            Some((k, _)) if k.trim() == "data" => {
                format!("data = \"{}\"", dir.path().join("data").display())
            }
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&config, local).unwrap();
    let file = config.display().to_string();
    let out = callvault(&["status", "--json", "--config", &file], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
