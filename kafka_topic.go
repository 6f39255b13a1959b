package dlq

// maxTopicLen is Kafka's limit on a topic name's length.
const maxTopicLen = 249

// legalTopic reports whether name is a legal Kafka topic name: 1 to 249 of
// [a-zA-Z0-9._-], and neither "." nor "..".
func legalTopic(name string) bool { return legalName(name, maxTopicLen) }

// legalName reports whether name is 1 to maxLen of [a-zA-Z0-9._-], and
// neither "." nor "..": safe as a Kafka topic and as a folder name.
func legalName(name string, maxLen int) bool {
	if name == "" || len(name) > maxLen || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
