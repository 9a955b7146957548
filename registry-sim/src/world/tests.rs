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

/// `SCENARIO` with two sessions for `ours-1` and the given idle timeout.
fn idle_world(timeout: &str) -> World {
    let text = SCENARIO
        .replacen("sessions = 1", "sessions = 2", 1)
        .replace(
            "exists_penalty = \"100ms\"",
            &format!("exists_penalty = \"100ms\"\nsession_idle_timeout = \"{timeout}\""),
        );
    World::new(Arc::new(Scenario::parse(&text, "test").unwrap()), 5, None)
}

fn keepalive(w: &mut World, token: &str) -> Result<(), Code> {
    w.check(token, &[]).map(|_| ()).map_err(|o| o.code)
}

#[test]
fn an_idle_session_expires_with_2201_and_frees_its_slot() {
    let mut w = idle_world("120s");
    let a = w.login("ours-1", "pw").unwrap();
    let b = w.login("ours-1", "pw").unwrap();
    assert_eq!(
        w.login("ours-1", "pw").unwrap_err().code,
        Code::SessionLimitExceeded,
        "two sessions, both open"
    );

    // Exactly the timeout idle is still alive; a keeps being used, b does not.
    w.advance_to(w.now() + Duration::seconds(120));
    assert_eq!(
        keepalive(&mut w, &a),
        Ok(()),
        "idle for exactly the timeout"
    );
    assert_eq!(
        w.login("ours-1", "pw").unwrap_err().code,
        Code::SessionLimitExceeded,
        "b is idle for exactly the timeout: it still counts"
    );
    w.advance_to(w.now() + ms(1));

    // The login notices b's idle time first, so the limit has room again.
    let c = w.login("ours-1", "pw").expect("b's slot was freed");
    for answer in [
        w.check(&b, &["free-name.com".into()]).unwrap_err(),
        w.create(&b, "free-name.com", &CreateRequest::default())
            .outcome,
        w.info(&b, "free-name.com").outcome,
        w.restore_request(&b, "free-name.com"),
    ] {
        assert_eq!(answer.code, Code::AuthorizationError, "{answer}");
        assert!(
            answer.message.contains("session expired") && answer.message.contains("120s"),
            "{answer}"
        );
    }
    assert_eq!(
        w.login("ours-1", "pw").unwrap_err().code,
        Code::SessionLimitExceeded,
        "a and c hold the two sessions"
    );
    assert_eq!(keepalive(&mut w, &a), Ok(()));
    let created = w.create(&c, "free-name.com", &CreateRequest::default());
    assert_eq!(created.outcome.code, Code::Ok, "{}", created.outcome);

    // Logging out an expired session answers 2201 too; then the token is unknown.
    let logout = w.logout(&b);
    assert_eq!(logout.code, Code::AuthorizationError);
    assert!(logout.message.contains("session expired"), "{logout}");
    let again = w.logout(&b);
    assert_eq!(again.code, Code::AuthorizationError);
    assert!(again.message.contains("unknown"), "{again}");
}

#[test]
fn an_expired_session_is_noticed_at_its_own_use_too() {
    let mut w = idle_world("120s");
    let a = w.login("ours-1", "pw").unwrap();
    let b = w.login("ours-1", "pw").unwrap();
    w.advance_to(w.now() + Duration::seconds(121));
    // Using an expired session closes it, even before any new login.
    assert_eq!(keepalive(&mut w, &a), Err(Code::AuthorizationError));
    let fresh = w.login("ours-1", "pw").expect("a's slot");
    assert_eq!(keepalive(&mut w, &fresh), Ok(()));
    // b expired as well; the login before the next one notices it.
    let fresh2 = w.login("ours-1", "pw").expect("b's slot");
    assert_eq!(keepalive(&mut w, &fresh2), Ok(()));
    assert_eq!(keepalive(&mut w, &b), Err(Code::AuthorizationError));
}

#[test]
fn a_session_used_regularly_stays_open() {
    let mut w = idle_world("120s");
    let a = w.login("ours-1", "pw").unwrap();
    let b = w.login("ours-1", "pw").unwrap();
    // Every 100 s for an hour, each command kind counts as use.
    for round in 0..36 {
        w.advance_to(w.now() + Duration::seconds(100));
        match round % 4 {
            0 => assert_eq!(keepalive(&mut w, &a), Ok(())),
            1 => assert_eq!(
                w.info(&a, "nothing-here.com").outcome.code,
                Code::ObjectDoesNotExist
            ),
            2 => assert_eq!(
                w.restore_request(&a, "nothing-here.com").code,
                Code::ObjectDoesNotExist
            ),
            _ => assert_eq!(
                w.create(&a, "bad_name.com", &CreateRequest::default())
                    .outcome
                    .code,
                Code::SyntaxError,
                "a refused command is still use of the session"
            ),
        }
        assert_eq!(keepalive(&mut w, &b), Ok(()));
    }
    assert_eq!(
        w.login("ours-1", "pw").unwrap_err().code,
        Code::SessionLimitExceeded,
        "both sessions are still held"
    );
    // Logout still frees a session at once.
    assert_eq!(w.logout(&a).code, Code::Ok);
    let c = w.login("ours-1", "pw").expect("the logged-out slot");
    assert_eq!(keepalive(&mut w, &c), Ok(()));
    assert_eq!(keepalive(&mut w, &a), Err(Code::AuthorizationError));
}

#[test]
fn a_zero_timeout_never_expires_and_a_registrar_may_override_it() {
    let mut w = idle_world("0s");
    let a = w.login("ours-1", "pw").unwrap();
    w.advance_to(w.now() + Duration::days(3));
    assert_eq!(keepalive(&mut w, &a), Ok(()));

    let text = SCENARIO.replace(
        "creates_per_second = 2",
        "creates_per_second = 2\nsession_idle_timeout = \"30s\"",
    );
    let scenario = Scenario::parse(&text, "test").unwrap();
    assert_eq!(scenario.session_idle_timeout, Some(Duration::seconds(600)));
    assert_eq!(
        scenario.registrars[0].session_idle_timeout,
        Some(Duration::seconds(30))
    );
    let mut w = World::new(Arc::new(scenario), 5, None);
    let a = w.login("ours-1", "pw").unwrap();
    w.advance_to(w.now() + Duration::seconds(31));
    let b = w
        .login("ours-1", "pw")
        .expect("the registrar's own 30 s applied");
    assert_eq!(keepalive(&mut w, &a), Err(Code::AuthorizationError));
    assert_eq!(keepalive(&mut w, &b), Ok(()));
}

#[test]
fn idle_timeouts_do_not_touch_the_rivals_races() {
    let run = |timeout: &str| {
        let mut w = idle_world(timeout);
        // The rival's first attempt comes long after the start: far past a 1 s timeout.
        let end = drops(&w).last().unwrap().1 + Duration::seconds(5);
        w.advance_to(end);
        assert_eq!(w.counters().drops, 6);
        (w.race_log(), w.counters())
    };
    let never = run("0s");
    assert!(never.1.creates > 0 && never.1.rejected_creates < never.1.creates);
    assert_eq!(run("1s"), never);
    assert_eq!(run("120s"), never);
}
