// yaml2json: reads one YAML document on stdin with gopkg.in/yaml.v3 (the
// parser Grafana's provisioning uses) and writes it as JSON, so that jq
// can check it. Duplicate keys and a second document are errors.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

func main() {
	dec := yaml.NewDecoder(os.Stdin)
	var doc interface{}
	if err := dec.Decode(&doc); err != nil {
		fmt.Fprintln(os.Stderr, "yaml2json:", err)
		os.Exit(1)
	}
	var extra interface{}
	if err := dec.Decode(&extra); err != io.EOF {
		fmt.Fprintln(os.Stderr, "yaml2json: more than one document")
		os.Exit(1)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "yaml2json:", err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
