use super::*;
use crate::epp::Code;

const SCENARIO: &str = r#"
name = "arbitration"
seed = 5
start = "2026-03-02T18:59:00Z"

[limits]
exists_penalty = "100ms"

[[tlds]]
name = "com"
names = 6
schedule = { kind = "daily-batch", at = "19:00:00", spread = "6m", order = "alphabetical" }

[population]
min_length = 4

[[registrars]]
id = "ours-1"
password = "pw"
sessions = 1
creates_per_second = 2

[[rivals]]
name = "fast"
accreditations = 1
sessions = 1
creates_per_second = 10
latency = { kind = "fixed", value = "10ms" }
strategy = { kind = "poll", interval = "1ms", attempts = 1 }
"#;

fn world(seed: u64) -> World {
    World::new(
        Arc::new(Scenario::parse(SCENARIO, "test").unwrap()),
        seed,
        None,
    )
}

/// The dropping names in release order.
fn drops(world: &World) -> Vec<(String, DateTime<Utc>)> {
    let mut drops: Vec<_> = world
        .domains()
        .iter()
        .filter_map(|d| d.drop.map(|p| (d.name.to_string(), p.release)))
        .collect();
    drops.sort_by_key(|d| d.1);
    drops
}

fn ms(n: i64) -> Duration {
    Duration::milliseconds(n)
}

#[test]
fn earliest_arrival_wins_the_race() {
    let mut w = world(5);
    let token = w.login("ours-1", "pw").unwrap();
    let all = drops(&w);
    let (first, release) = all[0].clone();

    // Ours at +5 ms beats the rival's +10..11 ms.
    w.advance_to(release + ms(5));
    assert_eq!(w.domain(&first).unwrap().state, State::Available);
    let answer = w.create(&token, &first, &CreateRequest::default());
    assert_eq!(answer.outcome.code, Code::Ok, "{}", answer.outcome);
    w.advance_to(release + ms(50));
    let race = w.races(&[])[0].clone();
    let win = race.winner.clone().unwrap();
    assert_eq!(
        (win.catcher.as_str(), win.registrar.as_str(), win.at),
        ("ours", "ours-1", release + ms(5))
    );
    let margin = race.winning_margin().unwrap();
    assert!(margin > ms(4) && margin < ms(7), "margin {margin}");
    assert_eq!(race.catchers["fast"].attempts, 1);
    assert_eq!(w.domain(&first).unwrap().sponsor, "ours-1");

    // Ours at +30 ms loses to the rival.
    let (second, release2) = all[1].clone();
    w.advance_to(release2 + ms(30));
    let answer = w.create(&token, &second, &CreateRequest::default());
    assert_eq!(answer.outcome.code, Code::ObjectExists);
    let race = w.races(&[])[1].clone();
    assert_eq!(race.winner.as_ref().unwrap().catcher, "fast");
    assert_eq!(race.winner.as_ref().unwrap().registrar, "fast-1");
    assert_eq!(
        race.catchers["ours"].first_after_release,
        Some(release2 + ms(30))
    );
}

#[test]
fn creates_before_release_fail_and_penalize_the_session() {
    let mut w = world(5);
    let token = w.login("ours-1", "pw").unwrap();
    let (name, release) = drops(&w)[2].clone();
    w.advance_to(release - ms(200));
    let early = w.create(&token, &name, &CreateRequest::default());
    assert_eq!(early.outcome.code, Code::ObjectExists);
    w.advance_to(release + ms(1));
    // Still inside the 100 ms penalty? No: 201 ms have passed. Penalize again right at release.
    let (other, _) = drops(&w)[5].clone();
    assert_eq!(
        w.create(&token, &other, &CreateRequest::default())
            .outcome
            .code,
        Code::ObjectExists
    );
    let blocked = w.create(&token, &name, &CreateRequest::default());
    assert_eq!(
        blocked.outcome.code,
        Code::SessionLimitExceeded,
        "{}",
        blocked.outcome
    );
    assert!(blocked.outcome.message.contains("penalized"));
    w.advance_to(release + ms(50));
    let race = w
        .races(&[])
        .into_iter()
        .find(|r| r.domain == name)
        .unwrap()
        .clone();
    let ours = &race.catchers["ours"];
    assert_eq!((ours.attempts, ours.early, ours.limited), (2, 1, 1));
    assert_eq!(
        ours.first_after_release, None,
        "a refused create never competed"
    );
    assert_eq!(race.winner.unwrap().catcher, "fast");
}

#[test]
fn registrar_limits_and_authentication() {
    let mut w = world(5);
    assert_eq!(
        w.login("ours-1", "wrong").unwrap_err().code,
        Code::AuthorizationError
    );
    assert_eq!(
        w.login("nobody", "pw").unwrap_err().code,
        Code::AuthorizationError
    );
    assert_eq!(
        w.login("fast-1", "").unwrap_err().code,
        Code::AuthorizationError,
        "rival accounts are not for login"
    );
    let token = w.login("ours-1", "pw").unwrap();
    assert_eq!(
        w.login("ours-1", "pw").unwrap_err().code,
        Code::SessionLimitExceeded
    );
    // Two creates a second on fresh names; the third in the same second is refused.
    assert_eq!(
        w.create(&token, "fresh-one.com", &CreateRequest::default())
            .outcome
            .code,
        Code::Ok
    );
    assert_eq!(
        w.create(&token, "fresh-two.com", &CreateRequest::default())
            .outcome
            .code,
        Code::Ok
    );
    assert_eq!(
        w.create(&token, "fresh-three.com", &CreateRequest::default())
            .outcome
            .code,
        Code::SessionLimitExceeded
    );
    w.advance_to(w.now() + Duration::seconds(1));
    assert_eq!(
        w.create(&token, "fresh-three.com", &CreateRequest::default())
            .outcome
            .code,
        Code::Ok
    );
    assert_eq!(
        w.create(&token, "bad_name.com", &CreateRequest::default())
            .outcome
            .code,
        Code::SyntaxError
    );
    assert_eq!(
        w.create(&token, "name.org", &CreateRequest::default())
            .outcome
            .code,
        Code::ParameterPolicyError
    );
    assert_eq!(
        w.create("no-session", "x.com", &CreateRequest::default())
            .outcome
            .code,
        Code::AuthorizationError
    );
    assert_eq!(w.logout(&token).code, Code::Ok);
    assert!(w.login("ours-1", "pw").is_ok(), "logout frees the session");
}

#[test]
fn same_seed_same_race_log_other_seed_other_log() {
    let run = |seed| {
        let mut w = world(seed);
        let end = drops(&w).last().unwrap().1 + Duration::seconds(5);
        w.advance_to(end);
        assert_eq!(w.counters().drops, 6);
        w.race_log()
    };
    let a = run(5);
    assert_eq!(a, run(5));
    assert_ne!(a, run(6));
    assert_eq!(a.lines().count(), 6);
}

#[test]
fn shipped_scenarios_replay_identically_without_any_client() {
    for name in ["smoke", "cctld-mix"] {
        let run = || {
            let scenario = Arc::new(Scenario::load(name).unwrap());
            let mut w = World::new(Arc::clone(&scenario), scenario.seed, None);
            let end = w.now() + Duration::days(2);
            w.advance_to(end);
            (w.race_log(), w.counters())
        };
        let (log, counters) = run();
        assert!(
            counters.drops > 0 && counters.creates > 0,
            "{name}: {counters:?}"
        );
        assert_eq!(log.lines().count() as i64, counters.drops);
        assert_eq!(run(), (log, counters), "{name} must replay byte for byte");
    }
}
