package dlq

// Defaults of the network backends' config. They live in an always-built
// file because DefaultConfig reports them in every build.
const (
	defaultKafkaRouting        = "per_table"
	defaultKafkaKey            = "destination"
	defaultTopicSuffix         = ".dlq"
	defaultCommonTopic         = "dlq"
	defaultKafkaAcks           = "all"
	defaultKafkaCompression    = "none"
	defaultKafkaWriteTimeoutMS = 10000
	defaultHTTPTimeoutMS       = 30000
	defaultHTTPMaxBodyBytes    = 4 << 20
	defaultHTTPMaxRetries      = 3
	defaultRedisStream         = "dlq"
	defaultRedisDialTimeoutMS  = 1000
	defaultRedisTimeoutMS      = 3000
	defaultRedisWaitTimeoutMS  = 1000
)
