package mgmtapi

// checkpoints marks a list that also takes from and take (writeList), so
// the OpenAPI document lists them and the {<key>, next} answer. The
// current Auth0 SDK reads client grants, connections, organizations,
// organization members and role users this way only
// (GET /client-grants?include_totals=true&take=50).
func (rt *Route) checkpoints() *Route { rt.checkpoint = true; return rt }
