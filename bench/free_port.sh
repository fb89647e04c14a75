# free_port.sh, sourced by the benchmark scripts.
#
# free_port VAR sets VAR (a name, or an array element such as 'PORT[a1]')
# to a loopback port that nothing listens on, that this shell has not
# handed out before, and that lies below the kernel's ephemeral range
# (net.ipv4.ip_local_port_range). A port from that range, even one the
# kernel just reported free, can be taken by any outgoing connection (a
# broker's to its coordinator, a load generator's) between this check and
# the server's bind, which then fails with "address already in use".

FREE_PORTS_GIVEN=" "

free_port() { # VAR
	local p lo=32768 base=10000 span
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	span=$((lo - base))
	if ((span < 1000)); then # an unusual range: take ports above it
		base=$((lo + 1000)) span=$((65535 - lo - 1000))
	fi
	for _ in $(seq 200); do
		p=$((base + (RANDOM * 32768 + RANDOM) % span))
		if [[ $FREE_PORTS_GIVEN != *" $p "* ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			FREE_PORTS_GIVEN+="$p "
			printf -v "$1" %s "$p"
			return 0
		fi
	done
	echo "free_port: no free loopback port found in $base-$((base + span - 1))" >&2
	return 1
}
