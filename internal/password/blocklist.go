package password

import (
	"strings"
	"sync"

	"github.com/trustelem/zxcvbn/frequency"
)

// The blocklist is the "passwords" list of zxcvbn 4.4.2 as compiled into Go by
// github.com/trustelem/zxcvbn (MIT licence, Copyright (c) 2018 Vincent Vanackere and Trustelem;
// the list itself is Dropbox zxcvbn's, MIT): the 30,000 most common passwords of leaked password
// corpora, ranked by frequency. It is embedded in the binary (no network look-up: Latch's
// machines cannot reach Have I Been Pwned). NIST SP 800-63B rev 4 asks for a whole-password
// comparison against such a list; ASVS 6.2.4 asks for at least the top 3,000.
var (
	blocklistOnce sync.Once
	blocklistSet  map[string]struct{}
)

// BlocklistSize is the number of distinct lower-cased entries of the blocklist.
func BlocklistSize() int {
	blocklistOnce.Do(loadBlocklist)
	return len(blocklistSet)
}

func loadBlocklist() {
	list := frequency.FrequencyLists["passwords"]
	blocklistSet = make(map[string]struct{}, len(list))
	for _, w := range list {
		blocklistSet[strings.ToLower(w)] = struct{}{}
	}
}

// blocked reports whether the lower-cased s is on the blocklist.
func blocked(s string) bool {
	blocklistOnce.Do(loadBlocklist)
	_, ok := blocklistSet[s]
	return ok
}
