// Package rawio owns kzoo's hot-path system calls made without the Go
// runtime's syscall bookkeeping: reads and writes on non-blocking TCP
// sockets, writes of partition batches into the page cache, and reads of
// what the page cache holds (a follower fetching the batches just
// appended).
//
// Why: an ordinary system call tells the scheduler it may block, and the
// first one after a process has been idle wakes the runtime's monitor
// thread, which then polls for a while. A broker answering a producer is
// idle between requests, so every request paid a thread wakeup plus that
// polling: on a 2-core virtual machine this was about half of a broker's
// CPU per produced record (0.147 against 0.075 µs with these calls raw).
//
// What it must never do: make a raw call that can block indefinitely. A
// socket here is non-blocking (EAGAIN parks the goroutine on the network
// poller, as the net package does). A page-cache write normally completes
// in microseconds, but the kernel can stall it (dirty-page throttling, a
// journal commit); while it is stalled it holds its scheduler slot, so
// WriteAt times each raw write and, after one that was slow, goes back to
// ordinary system calls for a while (doubling the while after each slow
// try, up to a minute). A raw read asks the kernel not to wait
// (RWF_NOWAIT); what is not cached is read with an ordinary call.
package rawio
