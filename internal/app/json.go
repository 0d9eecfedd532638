package app

import "encoding/json"

func jsonMarshal(s Settings) ([]byte, error) { return json.Marshal(s) }
