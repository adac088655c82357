# Sourced by the uplink benchmarks, from the repository root: builds wedsync, brings the
# emulated link up (link.sh), starts `wedsync serve` in the server namespace with a fresh
# data folder, and takes it all down on exit.
# Sets W (the binary), CLI and SRV (run in a namespace), server_ip, work (a temp folder),
# token, url; defines now and since.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wedsync/target}"
scripts/install-deps > /dev/null
cargo build --release -q -p wedsync-cli
W="$CARGO_TARGET_DIR/release/wedsync"
CLI=(ip netns exec wsync-cli)
SRV=(ip netns exec wsync-srv)
server_ip=10.77.0.2

work="$(mktemp -d)"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  benches/uplink/link.sh down > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# LINK_CC: the namespaces' congestion control (link.sh's CC, a name cargo's C builds also read).
CC="${LINK_CC:-}" benches/uplink/link.sh up

token="$("$W" serve token add bench --data "$work/data" | tail -n 1)"
"${SRV[@]}" env RUST_LOG=warn "$W" serve --data "$work/data" --listen "$server_ip:1080" > /dev/null &
server=$!
for _ in $(seq 50); do
  "${CLI[@]}" curl -sf -o /dev/null "http://$server_ip:1080/healthz" && break
  sleep 0.2
done
url="http://$server_ip:1080/files"
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { print b - a }'; }
