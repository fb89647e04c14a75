package zkstate

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"
)

// Controller reads /controller and leaves an exists watch on it, which fires
// when it is created, changed or deleted. ok is false when no controller is
// registered.
func (c *Client) Controller() (id int32, ok bool, ev <-chan zk.Event, err error) {
	path := c.p("/controller")
	exists, _, ev, err := c.conn.ExistsW(path)
	if err != nil {
		return 0, false, nil, fmt.Errorf("zkstate: watching %s: %w", path, err)
	}
	if !exists {
		return 0, false, ev, nil
	}
	data, _, err := c.conn.Get(path)
	if errors.Is(err, zk.ErrNoNode) {
		return 0, false, ev, nil // deleted in between; ev fires for it
	}
	if err != nil {
		return 0, false, nil, fmt.Errorf("zkstate: reading %s: %w", path, err)
	}
	id, err = DecodeController(data)
	if err != nil {
		return 0, false, nil, err
	}
	return id, true, ev, nil
}

// ControllerEpoch reads /controller_epoch; a missing znode reads as epoch 0
// at version -1.
func (c *Client) ControllerEpoch() (epoch int32, zkVersion int32, err error) {
	data, st, err := c.conn.Get(c.p("/controller_epoch"))
	if errors.Is(err, zk.ErrNoNode) {
		return 0, -1, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("zkstate: reading %s/controller_epoch: %w", c.chroot, err)
	}
	epoch, err = DecodeControllerEpoch(data)
	return epoch, st.Version, err
}

// Claim is the outcome of a controller election attempt.
type Claim struct {
	Won   bool
	Epoch int32 // the new controller epoch when Won
	// EpochZkVersion is the /controller_epoch znode version after the bump;
	// the controller's writes are fenced on it (Client.Fenced).
	EpochZkVersion int32
}

// TryBecomeController creates the ephemeral /controller for id and bumps
// /controller_epoch, atomically and conditionally on the epoch's znode
// version (Kafka's registerControllerAndIncrementControllerEpoch).
func (c *Client) TryBecomeController(id int32) (epoch int32, won bool, err error) {
	cl, err := c.Elect(id)
	return cl.Epoch, cl.Won, err
}

// Elect is TryBecomeController returning the fencing version as well.
func (c *Client) Elect(id int32) (Claim, error) {
	for attempt := 0; attempt < 10; attempt++ {
		epoch, ver, err := c.ControllerEpoch()
		if err != nil {
			return Claim{}, err
		}
		if ver < 0 {
			// Kafka creates /controller_epoch with the initial epoch 0.
			_, err := c.conn.Create(c.p("/controller_epoch"), []byte("0"), 0, openACL)
			if err != nil && !errors.Is(err, zk.ErrNodeExists) {
				return Claim{}, fmt.Errorf("zkstate: creating %s/controller_epoch: %w", c.chroot, err)
			}
			continue
		}
		next := epoch + 1
		res, err := c.conn.Multi(
			&zk.CreateRequest{Path: c.p("/controller"), Data: EncodeController(id, time.Now().UnixMilli()), Acl: openACL, Flags: zk.FlagEphemeral},
			&zk.SetDataRequest{Path: c.p("/controller_epoch"), Data: []byte(strconv.Itoa(int(next))), Version: ver},
		)
		switch {
		case err == nil:
			if len(res) < 2 || res[1].Stat == nil {
				return Claim{}, fmt.Errorf("zkstate: electing controller %d: no stat in reply", id)
			}
			return Claim{Won: true, Epoch: next, EpochZkVersion: res[1].Stat.Version}, nil
		case errors.Is(err, zk.ErrNodeExists):
			// Someone holds /controller. It may be us, if a reply was lost.
			data, st, gerr := c.conn.Get(c.p("/controller"))
			if errors.Is(gerr, zk.ErrNoNode) {
				continue
			}
			if gerr != nil {
				return Claim{}, fmt.Errorf("zkstate: reading %s/controller: %w", c.chroot, gerr)
			}
			holder, derr := DecodeController(data)
			if derr == nil && holder == id && st.EphemeralOwner == c.conn.SessionID() {
				epoch, ver, err := c.ControllerEpoch()
				if err != nil {
					return Claim{}, err
				}
				return Claim{Won: true, Epoch: epoch, EpochZkVersion: ver}, nil
			}
			return Claim{}, nil
		case errors.Is(err, zk.ErrBadVersion):
			continue // another broker bumped the epoch in between; look again
		default:
			return Claim{}, fmt.Errorf("zkstate: electing controller %d: %w", id, err)
		}
	}
	return Claim{}, fmt.Errorf("zkstate: electing controller %d: %s/controller_epoch keeps changing", id, c.chroot)
}

// Resign deletes /controller if this session holds it.
func (c *Client) Resign() error {
	_, st, err := c.conn.Get(c.p("/controller"))
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("zkstate: reading %s/controller: %w", c.chroot, err)
	}
	if st.EphemeralOwner != c.conn.SessionID() {
		return nil
	}
	err = c.conn.Delete(c.p("/controller"), st.Version)
	if err != nil && !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, zk.ErrBadVersion) {
		return fmt.Errorf("zkstate: deleting %s/controller: %w", c.chroot, err)
	}
	return nil
}

// NotifyISRChange writes /isr_change_notification/isr_change_<seq>, which a
// partition leader does after changing an ISR in ZooKeeper.
func (c *Client) NotifyISRChange(parts []TopicPartition) error {
	_, err := c.conn.Create(c.p("/isr_change_notification/isr_change_"), EncodeISRChange(parts), zk.FlagSequence, openACL)
	if err != nil {
		return fmt.Errorf("zkstate: writing isr change notification: %w", err)
	}
	return nil
}

// ISRChangeNotifications lists /isr_change_notification (sorted) with a
// children watch.
func (c *Client) ISRChangeNotifications() ([]string, <-chan zk.Event, error) {
	kids, _, ev, err := c.conn.ChildrenW(c.p("/isr_change_notification"))
	if err != nil {
		return nil, nil, fmt.Errorf("zkstate: listing %s/isr_change_notification: %w", c.chroot, err)
	}
	sort.Strings(kids)
	return kids, ev, nil
}

// ISRChange reads one ISR change notification; a vanished one reads empty.
func (c *Client) ISRChange(name string) ([]TopicPartition, error) {
	data, _, err := c.conn.Get(c.p("/isr_change_notification/" + name))
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("zkstate: reading /isr_change_notification/%s: %w", name, err)
	}
	return DecodeISRChange(data)
}

// DeleteISRChange removes a processed ISR change notification.
func (c *Client) DeleteISRChange(name string) error {
	_, err := c.multi(&zk.DeleteRequest{Path: c.p("/isr_change_notification/" + name), Version: -1})
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("zkstate: deleting /isr_change_notification/%s: %w", name, err)
	}
	return nil
}
