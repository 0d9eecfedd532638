package httpapi

import (
	_ "embed"
	"net/http"
)

// openapiDoc is Latch's own OpenAPI 3.0 description of every route in the route table.
//
//go:embed openapi.yaml
var openapiDoc []byte

// openapi serves GET /openapi.yaml.
func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	w.Write(openapiDoc)
}
