package api

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteTopics: v0-6
//
// Behavior:
// * TOPIC_DELETION_DISABLED when delete.topic.enable=false.
// * By name (v0-5) or by name or id (v6); unknown → UNKNOWN_TOPIC_OR_PARTITION
//   (UNKNOWN_TOPIC_ID for an id).
// * Marks the topic in /admin/delete_topics for the controller, then waits,
//   bounded by the timeout, until the metadata cache no longer has it;
//   REQUEST_TIMED_OUT otherwise.

func (h *Handler) handleDeleteTopics(ctx context.Context, r *kmsg.DeleteTopicsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
	reqs := r.Topics
	if r.Version < 6 {
		for _, n := range r.TopicNames {
			reqs = append(reqs, kmsg.DeleteTopicsRequestTopic{Topic: strp(n)})
		}
	}
	var marked []int
	for _, t := range reqs {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		var err error
		name := ""
		switch {
		case t.Topic != nil:
			name = *t.Topic
			if tm, ok := h.cache.topic(name); ok {
				rt.TopicID = tm.ID
			} else {
				err = kerr.UnknownTopicOrPartition
			}
		default:
			n, ok := h.cache.topicByID(t.TopicID)
			if !ok {
				err = kerr.UnknownTopicID
			} else {
				name = n
				rt.Topic = strp(n)
			}
		}
		if err == nil && !h.cfg.DeleteTopicEnable {
			err = kerr.TopicDeletionDisabled
		}
		if err == nil && h.o.Store == nil {
			err = kerrf(kerr.UnknownServerError, "no ZooKeeper connection")
		}
		if err == nil {
			if zerr := h.o.Store.MarkTopicForDeletion(name); zerr != nil {
				err = kerrf(kerr.UnknownServerError, "marking topic %s for deletion: %v", name, zerr)
			} else {
				marked = append(marked, len(resp.Topics))
			}
		}
		rt.ErrorCode = errCode(err)
		if r.Version >= 5 {
			rt.ErrorMessage = errMessage(err)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(marked) > 0 && r.TimeoutMillis > 0 {
		gone := func(i int) bool { return !h.cache.hasTopic(*resp.Topics[i].Topic) }
		h.waitUntil(ctx, time.Duration(r.TimeoutMillis)*time.Millisecond, func() bool {
			for _, i := range marked {
				if !gone(i) {
					return false
				}
			}
			return true
		})
		for _, i := range marked {
			if !gone(i) {
				resp.Topics[i].ErrorCode = kerr.RequestTimedOut.Code
				if r.Version >= 5 {
					resp.Topics[i].ErrorMessage = strp(fmt.Sprintf("Timed out waiting for deletion of topic %s", *resp.Topics[i].Topic))
				}
			}
		}
	}
	return resp
}
