#!/usr/bin/env bash
# What the emulated uplink (link.sh) needs: Debian packages, and kernel features it cannot
# work without. Idempotent and quiet when everything is there; run as root.
# The delay program (delay.py) is standard-library Python, so there is no venv to make.
set -euo pipefail

# nftables: the loss rule (numgen). iptables: the NFQUEUE rule, because nft's own `queue`
# statement is often not built (CONFIG_NFT_QUEUE) while xt_NFQUEUE via nft_compat is.
# ethtool: offloads off. iputils-ping/curl/python3: link.sh checks and verify.sh.
pkgs=(iproute2 nftables iptables ethtool iputils-ping curl python3)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install.sh: apt-get install ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

# Kernel features, by config symbol and module name. =y is built in; =m is loaded here;
# "is not set" is fatal. A symbol absent from the config has been merged into its parent
# (nft_numgen lives in nf_tables on some kernels), so that is fine. Without
# /proc/config.gz we can only try modprobe and let link.sh fail on the first missing piece.
features="NETFILTER_NETLINK_QUEUE:nfnetlink_queue NET_SCH_TBF:sch_tbf NF_TABLES:nf_tables
  NF_TABLES_INET:nf_tables NFT_NUMGEN:nft_numgen NFT_COMPAT:nft_compat
  NETFILTER_XT_TARGET_NFQUEUE:xt_NFQUEUE VETH:veth NET_NS:"
config=""
[ -r /proc/config.gz ] && config="$(zcat /proc/config.gz)"
fail=0
for f in $features; do
  sym="CONFIG_${f%%:*}" mod="${f#*:}"
  if [ -n "$config" ]; then
    case "$(grep -E "^(# )?$sym[= ]" <<< "$config" || true)" in
      "$sym=y" | "") ;;
      "$sym=m") modprobe "$mod" || { echo "install.sh: modprobe $mod failed" >&2; fail=1; } ;;
      *) echo "install.sh: kernel lacks $sym ($mod)" >&2; fail=1 ;;
    esac
  elif [ -n "$mod" ]; then
    modprobe -q "$mod" 2> /dev/null || true
  fi
done
exit $fail
