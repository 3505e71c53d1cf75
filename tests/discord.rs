//! Discord with the real binary against a fake Discord: `frontdesk discord register` puts
//! the global `/frontdesk` command (in English and Japanese), again harmlessly, and without
//! a `[discord]` section says what to set; `serve` with `[discord]` answers Discord's
//! endpoint check and refuses what its key did not sign.

mod support;

use frontdesk_bots::testing::discord::{APPLICATION_ID, DiscordSigner, FakeDiscord};
use support::{Server, client, run_cli_with_env};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn register_puts_the_slash_command_and_again_harmlessly() {
    let discord = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let application_id = APPLICATION_ID.to_string();
    let public_key = DiscordSigner::default().public_key_hex();
    let api_url = discord.url();
    let env = [
        ("FRONTDESK_DISCORD__TENANT", "acme"),
        ("FRONTDESK_DISCORD__APPLICATION_ID", application_id.as_str()),
        ("FRONTDESK_DISCORD__PUBLIC_KEY", public_key.as_str()),
        ("FRONTDESK_DISCORD__BOT_TOKEN", "cli-bot-token"),
        ("FRONTDESK_DISCORD__API_URL", api_url.as_str()),
    ];
    for _ in 0..2 {
        let output =
            run_cli_with_env(&["discord", "register", "--data-dir", data_dir], &env, "").await;
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert!(
            text(&output.stdout).contains("registered /frontdesk"),
            "{}",
            text(&output.stdout)
        );
    }
    let puts = discord.calls_to("PUT", "/applications/");
    assert_eq!(puts.len(), 2);
    assert_eq!(
        puts[0].path,
        format!("/applications/{APPLICATION_ID}/commands")
    );
    assert_eq!(puts[0].authorization, "Bot cli-bot-token");
    assert_eq!(puts[0].body, puts[1].body);
    assert_eq!(puts[0].body[0]["name_localizations"]["ja"], "受付");
}

#[tokio::test]
async fn register_without_a_discord_section_says_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_cli_with_env(
        &[
            "discord",
            "register",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
        "",
    )
    .await;
    assert!(!output.status.success());
    let err = text(&output.stderr);
    assert!(
        err.contains("[discord] is not configured") && err.contains("application_id"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_with_discord_answers_the_endpoint_check_and_refuses_bad_signatures() {
    let discord = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let signer = DiscordSigner::default();
    let application_id = APPLICATION_ID.to_string();
    let public_key = signer.public_key_hex();
    let api_url = discord.url();
    let server = Server::start_demo(
        dir.path(),
        &[
            ("FRONTDESK_DISCORD__TENANT", "demo"),
            ("FRONTDESK_DISCORD__APPLICATION_ID", application_id.as_str()),
            ("FRONTDESK_DISCORD__PUBLIC_KEY", public_key.as_str()),
            ("FRONTDESK_DISCORD__BOT_TOKEN", "serve-bot-token"),
            ("FRONTDESK_DISCORD__API_URL", api_url.as_str()),
        ],
    )
    .await;
    // Signed now, as Discord signs: the server checks the age against its own clock.
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let ping = r#"{"id":"1","type":1,"application_id":"1","token":"t","version":1}"#;
    let http = client();
    let post = |signature: String| {
        http.post(server.url("/webhooks/discord/interactions"))
            .header("content-type", "application/json")
            .header("x-signature-ed25519", signature)
            .header("x-signature-timestamp", timestamp.clone())
            .body(ping)
            .send()
    };
    let pong = post(signer.sign(&timestamp, ping.as_bytes()))
        .await
        .unwrap();
    assert_eq!(pong.status(), 200);
    assert_eq!(pong.text().await.unwrap(), r#"{"type":1}"#);
    let forged = DiscordSigner::from_seed([3; 32]).sign(&timestamp, ping.as_bytes());
    assert_eq!(post(forged).await.unwrap().status(), 401);
}
