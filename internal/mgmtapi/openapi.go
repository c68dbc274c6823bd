package mgmtapi

import (
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
)

// OpenAPIPath is where the API's OpenAPI document is served.
const OpenAPIPath = Prefix + "/openapi.json"

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// openAPI builds the OpenAPI 3.1 document of the routes: each route's
// body schemas are generated from the Go types its handler encodes and
// decodes, so the document cannot drift from the code; the tests check
// every answer they get against it.
func (a *API) openAPI() (*openapi3.T, error) {
	schemas := openapi3.Schemas{}
	gen := func(v any) (*openapi3.SchemaRef, error) {
		return openapi3gen.NewSchemaRefForValue(v, schemas, openapi3gen.SchemaCustomizer(nullableAs31))
	}
	errSchema, err := gen(apiError{})
	if err != nil {
		return nil, err
	}
	errResponse := &openapi3.ResponseRef{Value: openapi3.NewResponse().
		WithDescription("An error: statusCode, error (the status text), message, errorCode").
		WithJSONSchemaRef(errSchema)}
	doc := &openapi3.T{
		OpenAPI: "3.1.0",
		Info: &openapi3.Info{Title: "Gatehouse Management API", Version: "2",
			Description: "The management API of Gatehouse, in the shapes of the hosted service's Management API v2. " +
				"Authenticate with an access token from client_credentials whose audience is {issuer}/api/v2/."},
		Servers: openapi3.Servers{{URL: strings.TrimSuffix(a.issuer, "/") + Prefix}},
		Paths:   openapi3.NewPaths(),
		Components: &openapi3.Components{
			SecuritySchemes: openapi3.SecuritySchemes{"bearer": &openapi3.SecuritySchemeRef{
				Value: openapi3.NewJWTSecurityScheme()}},
		},
	}
	for _, rt := range a.routes {
		op := &openapi3.Operation{
			Summary:     rt.Summary,
			OperationID: operationID(rt),
			Security:    &openapi3.SecurityRequirements{{"bearer": rt.Scopes}},
			Responses:   openapi3.NewResponses(),
		}
		if len(rt.Scopes) > 0 {
			op.Description = "Scopes: any of " + strings.Join(rt.Scopes, ", ") + "."
		}
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: openapi3.NewPathParameter(m[1]).
				WithSchema(openapi3.NewStringSchema())})
		}
		if rt.request != nil {
			body, err := gen(rt.request)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", rt.Method, rt.Path, err)
			}
			op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).
				WithJSONSchemaRef(body)}
		}
		resp := openapi3.NewResponse().WithDescription(http.StatusText(rt.status))
		switch {
		case rt.listKey != "":
			item, err := gen(rt.response)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", rt.Method, rt.Path, err)
			}
			list := openapi3.NewArraySchema()
			list.Items = item
			totals := openapi3.NewObjectSchema().
				WithProperty("start", openapi3.NewIntegerSchema()).
				WithProperty("limit", openapi3.NewIntegerSchema()).
				WithProperty("length", openapi3.NewIntegerSchema()).
				WithProperty("total", openapi3.NewIntegerSchema()).
				WithPropertyRef(rt.listKey, &openapi3.SchemaRef{Value: list})
			if rt.checkpoint {
				totals.WithProperty("next", openapi3.NewStringSchema())
			}
			resp.WithJSONSchema(openapi3.NewOneOfSchema(list, totals))
			for _, p := range []struct{ name, desc string }{
				{"page", "page index, from 0"}, {"per_page", "items per page, 1 to 100 (default 50)"},
				{"include_totals", "true: answer {start, limit, length, total, " + rt.listKey + "} instead of the bare list"},
			} {
				if rt.checkpoint && p.name == "include_totals" {
					p.desc += "; ignored with from or take, which answer {" + rt.listKey + ", next}"
				}
				op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: openapi3.NewQueryParameter(p.name).
					WithDescription(p.desc).WithSchema(openapi3.NewStringSchema())})
			}
			if rt.checkpoint {
				for _, p := range []struct{ name, desc string }{
					{"from", "checkpoint pagination: the next of the previous answer; the start when absent"},
					{"take", "checkpoint pagination: items to return, 1 to 100 (default 50)"},
				} {
					op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: openapi3.NewQueryParameter(p.name).
						WithDescription(p.desc).WithSchema(openapi3.NewStringSchema())})
				}
			}
		case rt.response != nil:
			body, err := gen(rt.response)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", rt.Method, rt.Path, err)
			}
			resp.WithJSONSchemaRef(body)
		}
		op.Responses.Set(fmt.Sprint(rt.status), &openapi3.ResponseRef{Value: resp})
		op.Responses.Set("default", errResponse)
		doc.AddOperation(Prefix+rt.Path, rt.Method, op)
	}
	// Paths are relative to the server URL, which ends in the prefix.
	rel := openapi3.NewPaths()
	for path, item := range doc.Paths.Map() {
		rel.Set(strings.TrimPrefix(path, Prefix), item)
	}
	doc.Paths = rel
	if len(schemas) > 0 {
		doc.Components.Schemas = schemas
	}
	return doc, nil
}

// nullableAs31 writes a nullable schema as OpenAPI 3.1 (JSON Schema
// 2020-12) does: "null" among its types.
func nullableAs31(_ string, _ reflect.Type, _ reflect.StructTag, s *openapi3.Schema) error {
	if s.Nullable {
		s.Nullable = false
		if s.Type != nil && len(*s.Type) > 0 {
			t := append(openapi3.Types{}, *s.Type...)
			s.Type = &t
			*s.Type = append(*s.Type, "null")
		}
	}
	return nil
}

// operationID names an operation after its method and path:
// "get_users_id_sessions".
func operationID(rt *Route) string {
	p := strings.NewReplacer("/", "_", "{", "", "}", "", "-", "_").Replace(rt.Path)
	return strings.ToLower(rt.Method) + p
}
