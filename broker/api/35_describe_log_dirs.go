package api

import (
	"path/filepath"
	"syscall"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeLogDirs: v0-4
//
// Behavior:
// * One entry per configured log dir (absolute path) with the hosted
//   partitions it holds and their sizes; a null topic list means all.
// * OffsetLag is the leader's log end minus this replica's log end: 0 on
//   the leader, and for a follower the lag as of its last fetch.
// * v4+ reports the file system's total and usable bytes.

func (h *Handler) handleDescribeLogDirs(r *kmsg.DescribeLogDirsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	var want map[tp]bool
	if r.Topics != nil {
		want = map[tp]bool{}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				want[tp{t.Topic, p}] = true
			}
		}
	}
	byDir := map[string]map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
	for _, p := range h.rm.all() {
		if want != nil && !want[p.tp] {
			continue
		}
		p.mu.Lock()
		dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		dp.Partition, dp.Size = p.tp.Partition, p.log.Size()
		if !p.isLeader {
			dp.OffsetLag = max(0, h.fetchers.leaderEnd(p.tp)-p.log.EndOffset())
		}
		p.mu.Unlock()
		if byDir[p.dir] == nil {
			byDir[p.dir] = map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
		}
		byDir[p.dir][p.tp.Topic] = append(byDir[p.dir][p.tp.Topic], dp)
	}
	for _, d := range h.cfg.LogDirs {
		rd := kmsg.NewDescribeLogDirsResponseDir()
		abs, err := filepath.Abs(d)
		if err != nil {
			abs = d
		}
		rd.Dir = abs
		rd.TotalBytes, rd.UsableBytes = -1, -1
		var st syscall.Statfs_t
		if syscall.Statfs(d, &st) == nil {
			rd.TotalBytes = int64(st.Blocks) * int64(st.Bsize)
			rd.UsableBytes = int64(st.Bavail) * int64(st.Bsize)
		}
		for topic, parts := range byDir[d] {
			rt := kmsg.NewDescribeLogDirsResponseDirTopic()
			rt.Topic, rt.Partitions = topic, parts
			rd.Topics = append(rd.Topics, rt)
		}
		resp.Dirs = append(resp.Dirs, rd)
	}
	return resp
}
