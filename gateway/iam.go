package gateway

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/ssegate/ssegate/gateway/sigv4"
	"github.com/ssegate/ssegate/kms"
)

// The IAM Query API (docs/authorization.md, "IAM API"): users and their
// access keys, for the account root only. Requests are POST / with a form
// body (or GET with the parameters in the query), SigV4 service "iam".

const (
	iamXMLNS         = "https://iam.amazonaws.com/doc/2010-05-08/"
	iamSigningRegion = "us-east-1"
	// maxIAMBody bounds the form body; the largest action takes three
	// short parameters.
	maxIAMBody = 64 << 10
	// maxIAMItems is IAM's default and largest page (MaxItems).
	maxIAMItems = 1000
)

// credentialScope returns the SigV4 credential scope parts (access key,
// date, region, service) from the Authorization header or X-Amz-Credential.
func credentialScope(r *http.Request) []string {
	cred := ""
	if auth := r.Header.Get("Authorization"); auth != "" {
		_, rest, ok := strings.Cut(auth, "Credential=")
		if !ok {
			return nil
		}
		cred, _, _ = strings.Cut(rest, ",")
	} else {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return nil
	}
	return parts
}

func scopeRegion(r *http.Request) string {
	if p := credentialScope(r); p != nil {
		return p[2]
	}
	return ""
}

// isIAMRequest routes a request to the IAM API: S3 never signs for
// service "iam", so the scope alone decides.
func isIAMRequest(r *http.Request, _ *mux.RouteMatch) bool {
	if r.URL.Path != "/" || (r.Method != http.MethodPost && r.Method != http.MethodGet) {
		return false
	}
	p := credentialScope(r)
	return p != nil && p[3] == "iam"
}

// iamError is an IAM Query API error.
type iamError struct {
	status int
	code   string
	msg    string
}

func (e *iamError) Error() string { return "iam: " + e.code + ": " + e.msg }

func iamErr(status int, code, format string, args ...any) *iamError {
	return &iamError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// iamParams are the request's parameters, for the handlers and for
// error messages that name the entity.
type iamParams struct {
	url.Values
	action string
}

// iamErrors is the one table mapping kms user errors to IAM codes.
var iamErrors = []struct {
	err    error
	status int
	code   string
	msg    func(p iamParams) string
}{
	{kms.ErrAccessKeyNotFound, http.StatusNotFound, "NoSuchEntity", func(p iamParams) string {
		return fmt.Sprintf("The Access Key with id %s cannot be found.", p.Get("AccessKeyId"))
	}},
	{kms.ErrNotFound, http.StatusNotFound, "NoSuchEntity", func(p iamParams) string {
		return fmt.Sprintf("The user with name %s cannot be found.", p.Get("UserName"))
	}},
	{kms.ErrAlreadyExists, http.StatusConflict, "EntityAlreadyExists", func(p iamParams) string {
		return fmt.Sprintf("User with name %s already exists.", p.Get("UserName"))
	}},
	{kms.ErrLimitExceeded, http.StatusConflict, "LimitExceeded", func(iamParams) string {
		return fmt.Sprintf("Cannot exceed quota for AccessKeysPerUser: %d", kms.MaxAccessKeysPerUser)
	}},
	{kms.ErrDeleteConflict, http.StatusConflict, "DeleteConflict", func(iamParams) string {
		return "Cannot delete entity, must delete access keys first."
	}},
	{kms.ErrValidation, http.StatusBadRequest, "ValidationError", func(p iamParams) string {
		return validationMessage(p)
	}},
	{kms.ErrThrottled, http.StatusBadRequest, "Throttling", func(iamParams) string { return "Rate exceeded" }},
}

func validationMessage(p iamParams) string {
	if p.action == "UpdateAccessKey" && p.Get("Status") != kms.AccessKeyActive && p.Get("Status") != kms.AccessKeyInactive {
		return "1 validation error detected: Value at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
	}
	return "1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must have length between 1 and 64 and satisfy regular expression pattern: [\\w+=,.@-]+"
}

// toIAMError maps err; internal errors become ServiceFailure, with the
// detail left to the log.
func toIAMError(err error, p iamParams) (e *iamError, internal bool) {
	if errors.As(err, &e) {
		return e, false
	}
	for _, m := range iamErrors {
		if errors.Is(err, m.err) {
			return &iamError{status: m.status, code: m.code, msg: m.msg(p)}, false
		}
	}
	return iamErr(http.StatusInternalServerError, "ServiceFailure", "Request processing has failed due to an unknown error, exception or failure."), true
}

// iamAuthError maps a SigV4 failure to IAM's authentication errors.
func iamAuthError(err error) *iamError {
	msg := sigv4.Message(err)
	switch {
	case errors.Is(err, sigv4.ErrInvalidAccessKeyID):
		return iamErr(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
	case errors.Is(err, sigv4.ErrSignatureDoesNotMatch):
		return iamErr(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
	case errors.Is(err, sigv4.ErrMissingAuth):
		return iamErr(http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
	case errors.Is(err, sigv4.ErrRequestTimeTooSkewed):
		return iamErr(http.StatusForbidden, "RequestExpired", "Request has expired.")
	case errors.Is(err, sigv4.ErrAccessDenied):
		return iamErr(http.StatusForbidden, "AccessDenied", "%s", orDefault(msg, "Access Denied"))
	}
	return iamErr(http.StatusBadRequest, "IncompleteSignature", "%s", orDefault(msg, "The request signature is malformed."))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

type iamErrorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	XMLNS     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

func writeIAMError(w http.ResponseWriter, e *iamError, requestID string) {
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	writeXML(w, e.status, iamErrorResponse{XMLNS: iamXMLNS, Type: typ, Code: e.code, Message: e.msg, RequestID: requestID})
}

// serveIAM authenticates an IAM Query API call and runs its action.
func (s *Server) serveIAM(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ri := requestInfo(r)
	tw := &trackingWriter{ResponseWriter: w, status: http.StatusOK}
	p := iamParams{}
	err := s.authenticate(r, "iam")
	if err != nil {
		s.log.Debug("iam auth failed", "request_id", ri.id, "err", err)
		err = iamAuthError(err)
	} else {
		p, err = readIAMParams(r)
		if err == nil {
			ctx := kms.WithCaller(r.Context(), kms.Caller{
				AccessKey: ri.auth.AccessKey, ARN: ri.auth.ARN, RequestID: ri.id, SourceIP: sourceIP(r),
			})
			err = s.iamAction(ctx, tw, p, ri)
		}
	}
	// Error codes are constants of this file, never client input, so the
	// code label is a bounded set.
	code := "OK"
	if err != nil {
		e, internal := toIAMError(err, p)
		if internal {
			s.log.Error("internal error", "op", "iam:"+truncateParam(p.action), "request_id", ri.id, "err", err)
		}
		writeIAMError(tw, e, ri.id)
		code = e.code
	}
	s.metrics.observeIAM(iamActionLabel(p.action), code, time.Since(start))
	// The access line names the action and the user it concerns, never a
	// parameter value that could be a secret; both are client input, so
	// they are cut to 64 bytes (a line per request, not 64 KiB of it).
	s.log.Info("access", "request_id", ri.id, "op", "iam:"+truncateParam(p.action), "user", truncateParam(p.Get("UserName")),
		"status", tw.status, "access_key", ri.auth.AccessKey)
}

// readIAMParams merges the form body into the query parameters (GET
// requests carry them in the query, as AWS accepts).
func readIAMParams(r *http.Request) (iamParams, error) {
	p := iamParams{Values: url.Values{}}
	for k, v := range r.URL.Query() {
		if !strings.HasPrefix(k, "X-Amz-") {
			p.Values[k] = v
		}
	}
	if r.Body != nil && r.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxIAMBody+1))
		if err != nil {
			if _, internal := toAPIError(err); !internal {
				return p, iamErr(http.StatusBadRequest, "IncompleteSignature", "The request body does not match its signature.")
			}
			return p, err
		}
		if len(body) > maxIAMBody {
			return p, iamErr(http.StatusRequestEntityTooLarge, "ValidationError", "Request body too large.")
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return p, iamErr(http.StatusBadRequest, "MalformedQueryString", "The request body is not a valid form.")
		}
		for k, v := range form {
			p.Values[k] = v
		}
	}
	p.action = p.Get("Action")
	return p, nil
}

// iamActions is the IAM API surface.
var iamActions = map[string]func(s *Server, ctx context.Context, p iamParams, ri *reqInfo) (any, error){
	"CreateUser":      (*Server).iamCreateUser,
	"GetUser":         (*Server).iamGetUser,
	"ListUsers":       (*Server).iamListUsers,
	"DeleteUser":      (*Server).iamDeleteUser,
	"CreateAccessKey": (*Server).iamCreateAccessKey,
	"ListAccessKeys":  (*Server).iamListAccessKeys,
	"UpdateAccessKey": (*Server).iamUpdateAccessKey,
	"DeleteAccessKey": (*Server).iamDeleteAccessKey,
}

// iamActionLabel is the action as a metrics label: one of iamActions or
// "unknown", so a client sending random Action values (or failing
// authentication, before the action is read) cannot create new series.
func iamActionLabel(action string) string {
	if _, ok := iamActions[action]; ok {
		return action
	}
	return "unknown"
}

func (s *Server) iamAction(ctx context.Context, w http.ResponseWriter, p iamParams, ri *reqInfo) error {
	fn, ok := iamActions[p.action]
	if !ok {
		return iamErr(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version %s", truncateParam(p.action), truncateParam(p.Get("Version")))
	}
	// Only the account root manages users: ssegate has no IAM identity
	// policies through which it could delegate this.
	if !isRootARN(ri.auth.ARN) {
		return iamErr(http.StatusForbidden, "AccessDenied", "User: %s is not authorized to perform: iam:%s on resource: %s",
			ri.auth.ARN, p.action, s.iamResource(ri.auth.ARN, p.Get("UserName")))
	}
	if s.deps.Users == nil {
		return iamErr(http.StatusNotImplemented, "InvalidAction", "IAM users need the embedded KMS; this gateway uses a remote KMS (--kms-endpoint) and has only its root credentials.")
	}
	out, err := fn(s, ctx, p, ri)
	if err != nil {
		return err
	}
	writeXML(w, http.StatusOK, out)
	return nil
}

func truncateParam(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func isRootARN(arn string) bool {
	return strings.HasPrefix(arn, "arn:aws:iam::") && strings.HasSuffix(arn, ":root")
}

// accountOf returns the account id in an IAM ARN.
func accountOf(arn string) string {
	rest := strings.TrimPrefix(arn, "arn:aws:iam::")
	acct, _, _ := strings.Cut(rest, ":")
	return acct
}

func (s *Server) iamResource(caller, user string) string {
	if user == "" {
		return caller
	}
	return "arn:aws:iam::" + accountOf(caller) + ":user/" + truncateParam(user)
}

func required(p iamParams, name string) error {
	if p.Get(name) == "" {
		lower := strings.ToLower(name[:1]) + name[1:]
		return iamErr(http.StatusBadRequest, "ValidationError", "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lower)
	}
	return nil
}

// Response shapes, as IAM sends them.

type iamMetadata struct {
	RequestID string `xml:"RequestId"`
}

type iamUser struct {
	Path       string `xml:"Path,omitempty"`
	UserName   string `xml:"UserName,omitempty"`
	UserID     string `xml:"UserId"`
	Arn        string `xml:"Arn"`
	CreateDate string `xml:"CreateDate,omitempty"`
}

func toIAMUser(u kms.User) iamUser {
	return iamUser{Path: "/", UserName: u.Name, UserID: u.ID, Arn: u.ARN, CreateDate: iamTime(u.Created)}
}

func iamTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

type createUserResponse struct {
	XMLName xml.Name    `xml:"CreateUserResponse"`
	XMLNS   string      `xml:"xmlns,attr"`
	User    iamUser     `xml:"CreateUserResult>User"`
	Meta    iamMetadata `xml:"ResponseMetadata"`
}

type getUserResponse struct {
	XMLName xml.Name    `xml:"GetUserResponse"`
	XMLNS   string      `xml:"xmlns,attr"`
	User    iamUser     `xml:"GetUserResult>User"`
	Meta    iamMetadata `xml:"ResponseMetadata"`
}

type listUsersResponse struct {
	XMLName     xml.Name    `xml:"ListUsersResponse"`
	XMLNS       string      `xml:"xmlns,attr"`
	Users       []iamUser   `xml:"ListUsersResult>Users>member"`
	IsTruncated bool        `xml:"ListUsersResult>IsTruncated"`
	Marker      string      `xml:"ListUsersResult>Marker,omitempty"`
	Meta        iamMetadata `xml:"ResponseMetadata"`
}

// emptyResponse is the answer of actions without a result element.
type emptyResponse struct {
	XMLName xml.Name
	XMLNS   string      `xml:"xmlns,attr"`
	Meta    iamMetadata `xml:"ResponseMetadata"`
}

type iamAccessKey struct {
	UserName        string `xml:"UserName"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey,omitempty"`
	CreateDate      string `xml:"CreateDate"`
}

type createAccessKeyResponse struct {
	XMLName   xml.Name     `xml:"CreateAccessKeyResponse"`
	XMLNS     string       `xml:"xmlns,attr"`
	AccessKey iamAccessKey `xml:"CreateAccessKeyResult>AccessKey"`
	Meta      iamMetadata  `xml:"ResponseMetadata"`
}

type listAccessKeysResponse struct {
	XMLName     xml.Name       `xml:"ListAccessKeysResponse"`
	XMLNS       string         `xml:"xmlns,attr"`
	UserName    string         `xml:"ListAccessKeysResult>UserName"`
	Keys        []iamAccessKey `xml:"ListAccessKeysResult>AccessKeyMetadata>member"`
	IsTruncated bool           `xml:"ListAccessKeysResult>IsTruncated"`
	Meta        iamMetadata    `xml:"ResponseMetadata"`
}

func empty(action string, ri *reqInfo) emptyResponse {
	return emptyResponse{XMLName: xml.Name{Local: action + "Response"}, XMLNS: iamXMLNS, Meta: iamMetadata{ri.id}}
}

func (s *Server) iamCreateUser(ctx context.Context, p iamParams, ri *reqInfo) (any, error) {
	if err := required(p, "UserName"); err != nil {
		return nil, err
	}
	if p.Get("Path") != "" && p.Get("Path") != "/" {
		return nil, iamErr(http.StatusBadRequest, "ValidationError", "ssegate supports only the path /.")
	}
	u, err := s.deps.Users.CreateUser(ctx, p.Get("UserName"))
	if err != nil {
		return nil, err
	}
	return createUserResponse{XMLNS: iamXMLNS, User: toIAMUser(u), Meta: iamMetadata{ri.id}}, nil
}

// iamGetUser without UserName describes the caller: the root, as AWS
// answers the root (no user name, the account id as user id).
func (s *Server) iamGetUser(ctx context.Context, p iamParams, ri *reqInfo) (any, error) {
	resp := getUserResponse{XMLNS: iamXMLNS, Meta: iamMetadata{ri.id}}
	if p.Get("UserName") == "" {
		resp.User = iamUser{UserID: accountOf(ri.auth.ARN), Arn: ri.auth.ARN}
		return resp, nil
	}
	u, err := s.deps.Users.GetUser(ctx, p.Get("UserName"))
	if err != nil {
		return nil, err
	}
	resp.User = toIAMUser(u)
	return resp, nil
}

// iamListUsers pages by user name: Marker is the first name of the next
// page.
func (s *Server) iamListUsers(ctx context.Context, p iamParams, ri *reqInfo) (any, error) {
	limit := maxIAMItems
	if v := p.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxIAMItems {
			return nil, iamErr(http.StatusBadRequest, "ValidationError", "1 validation error detected: Value at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000")
		}
		limit = n
	}
	if pfx := p.Get("PathPrefix"); pfx != "" && pfx != "/" {
		return listUsersResponse{XMLNS: iamXMLNS, Meta: iamMetadata{ri.id}}, nil
	}
	users, err := s.deps.Users.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	start := 0
	if m := p.Get("Marker"); m != "" {
		start = sort.Search(len(users), func(i int) bool { return users[i].Name >= m })
	}
	resp := listUsersResponse{XMLNS: iamXMLNS, Meta: iamMetadata{ri.id}}
	for i := start; i < len(users); i++ {
		if len(resp.Users) == limit {
			resp.IsTruncated, resp.Marker = true, users[i].Name
			break
		}
		resp.Users = append(resp.Users, toIAMUser(users[i]))
	}
	return resp, nil
}

func (s *Server) iamDeleteUser(ctx context.Context, p iamParams, ri *reqInfo) (any, error) {
	if err := required(p, "UserName"); err != nil {
		return nil, err
	}
	if err := s.deps.Users.DeleteUser(ctx, p.Get("UserName")); err != nil {
		return nil, err
	}
	return empty("DeleteUser", ri), nil
}

// errRootAccessKeys answers access key actions without UserName: in AWS
// they would act on the root's own keys, which ssegate takes from its
// configuration and does not manage through the API.
var errRootAccessKeys = iamErr(http.StatusBadRequest, "ValidationError", "UserName is required: the root's access keys are set in the gateway's configuration, not through IAM.")

func (s *Server) iamCreateAccessKey(ctx context.Context, p iamParams, ri *reqInfo) (any, error) {
	if p.Get("UserName") == "" {
		return nil, errRootAccessKeys
	}
	k, err := s.deps.Users.CreateAccessKey(ctx, p.Get("UserName"))
	if err != nil {
		return nil, err
	}
	// The one place a secret leaves the keystore: this response body.
	return createAccessKeyResponse{XMLNS: iamXMLNS, Meta: iamMetadata{ri.id}, AccessKey: iamAccessKey{
		UserName: k.UserName, AccessKeyID: k.AccessKeyID, Status: k.Status, SecretAccessKey: k.Secret, CreateDate: iamTime(k.Created),
	}}, nil
}

func (s *Server) iamListAccessKeys(ctx context.Context, p iamParams, ri *reqInfo) (any, error) {
	if p.Get("UserName") == "" {
		return nil, errRootAccessKeys
	}
	keys, err := s.deps.Users.ListAccessKeys(ctx, p.Get("UserName"))
	if err != nil {
		return nil, err
	}
	resp := listAccessKeysResponse{XMLNS: iamXMLNS, UserName: p.Get("UserName"), Meta: iamMetadata{ri.id}}
	for _, k := range keys {
		resp.UserName = k.UserName
		resp.Keys = append(resp.Keys, iamAccessKey{UserName: k.UserName, AccessKeyID: k.AccessKeyID, Status: k.Status, CreateDate: iamTime(k.Created)})
	}
	return resp, nil
}

func (s *Server) iamUpdateAccessKey(ctx context.Context, p iamParams, ri *reqInfo) (any, error) {
	if p.Get("UserName") == "" {
		return nil, errRootAccessKeys
	}
	for _, name := range []string{"AccessKeyId", "Status"} {
		if err := required(p, name); err != nil {
			return nil, err
		}
	}
	if err := s.deps.Users.UpdateAccessKey(ctx, p.Get("UserName"), p.Get("AccessKeyId"), p.Get("Status")); err != nil {
		return nil, err
	}
	return empty("UpdateAccessKey", ri), nil
}

func (s *Server) iamDeleteAccessKey(ctx context.Context, p iamParams, ri *reqInfo) (any, error) {
	if p.Get("UserName") == "" {
		return nil, errRootAccessKeys
	}
	if err := required(p, "AccessKeyId"); err != nil {
		return nil, err
	}
	if err := s.deps.Users.DeleteAccessKey(ctx, p.Get("UserName"), p.Get("AccessKeyId")); err != nil {
		return nil, err
	}
	return empty("DeleteAccessKey", ri), nil
}
