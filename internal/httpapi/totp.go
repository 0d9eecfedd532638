package httpapi

// totpRoutes are the TOTP routes (seeds 000 and 001).
func (s *Server) totpRoutes() []route { return nil }
