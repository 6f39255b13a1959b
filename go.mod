module github.com/dlqkit/dlq

go 1.26

require gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
