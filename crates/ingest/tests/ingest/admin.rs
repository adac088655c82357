//! Admin endpoints, /metrics and /healthz.

use crate::support::Server;

#[test]
fn admins_list_uploads_and_read_stats_and_metrics() {
    let server = Server::start();
    let active = server.create(&server.alice, 10, None);
    let done = server.create(&server.bob, 2, None);
    assert_eq!(server.patch(&server.bob, &done, 0, b"ok", &[]).status, 204);
    let auth = format!("Bearer {}", server.admin);
    let h = [("Authorization", auth.as_str())];

    let r = server.send("GET", "/admin/uploads", &h, b"");
    assert_eq!(r.status, 200, "{r:?}");
    let list: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    let ids: Vec<&str> = list.as_array().expect("array").iter().filter_map(|u| u["id"].as_str()).collect();
    assert_eq!(ids, [active.trim_start_matches("/files/")]);

    let r = server.send("GET", "/admin/stats", &h, b"");
    let stats: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(stats["uploads"]["receiving"], 1);
    assert_eq!(stats["uploads"]["complete"], 1);
    assert_eq!(stats["bytes_received_total"], 2);

    let r = server.send("GET", "/metrics", &h, b"");
    assert_eq!(r.status, 200);
    let text = String::from_utf8_lossy(&r.body);
    assert!(text.contains("wedsync_ingest_uploads_created_total 2"), "{text}");
    assert!(text.contains("wedsync_ingest_requests_total{method=\"PATCH\",status=\"204\"} 1"), "{text}");
    assert!(text.contains("wedsync_ingest_patch_seconds_count 1"), "{text}");

    let photographer = format!("Bearer {}", server.alice);
    for path in ["/admin/uploads", "/admin/stats", "/metrics"] {
        assert_eq!(server.send("GET", path, &[("Authorization", &photographer)], b"").status, 403, "{path}");
        assert_eq!(server.send("GET", path, &[], b"").status, 401, "{path}");
    }
    let r = server.send("GET", "/healthz", &[], b"");
    let text = String::from_utf8_lossy(&r.body);
    assert_eq!(r.status, 200, "{text}");
    match server.is_local() {
        true => assert!(text.starts_with("ok: ") && text.ends_with(" bytes free\n"), "{text}"),
        false => {
            assert!(text.starts_with("ok: state in PostgreSQL ") && text.contains("bytes in s3://"), "{text}")
        }
    }
}
