// Package kzootest runs the Kafka command-line tools of cli/kafkatools
// against kzoo's own coordinator and brokers, started in the test process.
// It holds tests only, kept apart so that the tools' own tests (against
// franz-go's kfake) build without the broker packages. It must never be
// imported.
package kzootest
