//! The state in PostgreSQL (issue 19, first part): a throwaway cluster from Debian's
//! packages, the migrations (once, and safely when instances start together), the tokens,
//! and clear errors for a wrong database or an unreachable server.

use wedsync_ingest::pg::{Pg, PgTokens};
use wedsync_ingest::testing::postgres::Cluster;
use wedsync_ingest::{Error, TokenAdmin, Tokens};

/// A cluster, or the test fails: `scripts/install-deps` installs PostgreSQL, so a missing
/// one is a broken setup, not a reason to skip.
fn cluster() -> Cluster {
    Cluster::start().unwrap_or_else(|e| panic!("cannot start a throwaway PostgreSQL: {e}"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

#[test]
fn instances_starting_together_migrate_the_database_once() {
    let cluster = cluster();
    let url = cluster.database("together").expect("database");
    runtime().block_on(async {
        let starts = (0..6).map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Pg::connect(&url).await })
        });
        let mut pools = Vec::new();
        for start in starts {
            pools.push(start.await.expect("task").unwrap_or_else(|e| panic!("{e}")));
        }
        // Every migration ran exactly once: a later start finds nothing to do.
        assert_eq!(pools[0].migrate().await.expect("migrate"), 0);
        let tokens = PgTokens::new(pools[0].clone());
        assert!(tokens.list().await.expect("list").is_empty());
    });
}

#[test]
fn tokens_live_in_the_database_hashed_and_a_live_name_is_unique() {
    let cluster = cluster();
    let url = cluster.database("tokens").expect("database");
    runtime().block_on(async {
        let one = PgTokens::new(Pg::connect(&url).await.expect("connect"));
        let other = PgTokens::new(Pg::connect(&url).await.expect("second instance"));
        let token = one.add("studio", false).await.expect("add");
        assert!(token.starts_with("wst_") && token.len() == 68, "{token}");
        // The other instance knows it: the state is the database's, not the instance's.
        let who = other.verify(&token).await.expect("verify").expect("a live token");
        assert_eq!((who.name.as_str(), who.admin), ("studio", false));
        assert!(other.verify("wst_not-a-token").await.expect("verify").is_none());

        // Two instances adding the same name at once: one wins.
        let (a, b) = tokio::join!(one.add("laura", true), other.add("laura", true));
        assert!(a.is_ok() != b.is_ok(), "{a:?} / {b:?}");
        assert!(matches!(a.err().or(b.err()), Some(Error::Invalid { .. })));

        // Revoked: refused everywhere, and the name is free again.
        assert!(other.revoke("studio").await.expect("revoke"));
        assert!(one.verify(&token).await.expect("verify").is_none());
        assert!(!one.revoke("studio").await.expect("second revoke"));
        let again = one.add("studio", false).await.expect("the name is free again");
        assert_ne!(again, token);
        let listed = one.list().await.expect("list");
        let names: Vec<(&str, bool)> = listed.iter().map(|t| (t.name.as_str(), t.revoked)).collect();
        assert_eq!(names, [("studio", true), ("laura", false), ("studio", false)]);
    });
}

#[test]
fn a_wrong_database_or_server_is_a_clear_error() {
    let cluster = cluster();
    runtime().block_on(async {
        let missing = Pg::connect(&cluster.url("no_such_db")).await.err().expect("a missing database");
        let text = missing.to_string();
        assert!(text.contains("no_such_db") && text.contains("does not exist"), "{text}");

        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let unreachable = format!("postgres://wedsync@127.0.0.1:{port}/x");
        let text = Pg::connect(&unreachable).await.err().expect("no server").to_string();
        assert!(
            text.contains(&format!("127.0.0.1:{port}")) && text.to_lowercase().contains("connect"),
            "{text}"
        );

        let text = Pg::connect("mysql://nope").await.err().expect("not a URL").to_string();
        assert!(text.contains("not a PostgreSQL URL"), "{text}");
    });
}
