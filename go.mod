module github.com/dlqkit/dlq

go 1.26

require (
	github.com/stretchr/testify v1.12.1 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
)
