package kms

import (
	"errors"
	"net/http"
)

// ErrNotAuthorized is AWS's answer to an alias under the reserved
// "alias/aws/" prefix (CreateAlias, UpdateAlias, DeleteAlias).
var ErrNotAuthorized = errors.New("kms: not authorized") // NotAuthorizedException

// Key policy and grant errors (docs/authorization.md).
var (
	ErrMalformedPolicy   = errors.New("kms: malformed policy document") // MalformedPolicyDocumentException
	ErrInvalidGrantToken = errors.New("kms: invalid grant token")       // InvalidGrantTokenException
	ErrInvalidGrantID    = errors.New("kms: invalid grant id")          // InvalidGrantIdException
)

// errorTypes is the one table mapping kms errors to AWS KMS error types.
// The handler writes them, the remote client maps them back.
var errorTypes = []struct {
	err    error
	awsTyp string
}{
	{ErrNotFound, "NotFoundException"},
	{ErrDisabled, "DisabledException"},
	{ErrInvalidState, "KMSInvalidStateException"},
	{ErrInvalidCiphertext, "InvalidCiphertextException"},
	{ErrIncorrectKey, "IncorrectKeyException"},
	{ErrValidation, "ValidationException"},
	{ErrAlreadyExists, "AlreadyExistsException"},
	{ErrLimitExceeded, "LimitExceededException"},
	{ErrThrottled, "ThrottlingException"},
	{ErrAccessDenied, "AccessDeniedException"},
	{ErrNotAuthorized, "NotAuthorizedException"},
	{ErrUnsupported, "UnsupportedOperationException"},
	{ErrInvalidAliasName, "InvalidAliasNameException"},
	{ErrInvalidArn, "InvalidArnException"},
	{ErrInvalidMarker, "InvalidMarkerException"},
	{ErrTagException, "TagException"},
	{ErrInternal, "KMSInternalException"},
	{ErrMalformedPolicy, "MalformedPolicyDocumentException"},
	{ErrInvalidGrantToken, "InvalidGrantTokenException"},
	{ErrInvalidGrantID, "InvalidGrantIdException"},
	// Part B (imported material).
	{ErrInvalidImportToken, "InvalidImportTokenException"},
	{ErrExpiredImportToken, "ExpiredImportTokenException"},
	{ErrIncorrectKeyMaterial, "IncorrectKeyMaterialException"},
	// Part A (key specs, asymmetric and HMAC keys: keyspec.go, asymmetric.go, hmac.go).
	{ErrInvalidKeyUsage, "InvalidKeyUsageException"},
	{ErrInvalidSignature, "KMSInvalidSignatureException"},
	{ErrInvalidMac, "KMSInvalidMacException"},
	// Part C (custom key stores: keystore.go, xks.go).
	{ErrCustomKeyStoreNotFound, "CustomKeyStoreNotFoundException"},
	{ErrCustomKeyStoreNameInUse, "CustomKeyStoreNameInUseException"},
	{ErrCustomKeyStoreInvalidState, "CustomKeyStoreInvalidStateException"},
	{ErrCustomKeyStoreHasCMKs, "CustomKeyStoreHasCMKsException"},
	{ErrXksKeyNotFound, "XksKeyNotFoundException"},
	{ErrXksKeyInvalidConfiguration, "XksKeyInvalidConfigurationException"},
	{ErrXksKeyAlreadyInUse, "XksKeyAlreadyInUseException"},
	{ErrXksProxyURIInUse, "XksProxyUriInUseException"},
	{ErrXksProxyIncorrectAuth, "XksProxyIncorrectAuthenticationCredentialException"},
	{ErrXksProxyInvalidConfig, "XksProxyInvalidConfigurationException"},
	{ErrXksProxyUnreachable, "XksProxyUriUnreachableException"},
	{ErrXksProxyInvalidResponse, "XksProxyInvalidResponseException"},
}

const internalType = "KMSInternalException"

// errorType returns the AWS error type for err.
func errorType(err error) string {
	for _, e := range errorTypes {
		if errors.Is(err, e.err) {
			return e.awsTyp
		}
	}
	return internalType
}

// errorStatus is 500 for internal errors and 400 for everything else, as AWS.
func errorStatus(typ string) int {
	if typ == internalType {
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// errorFromType maps an AWS error type back to a kms sentinel (nil if unknown).
func errorFromType(typ string) error {
	for _, e := range errorTypes {
		if e.awsTyp == typ {
			return e.err
		}
	}
	return nil
}

// ErrDeleteConflict: the entity still has dependents (IAM DeleteConflict:
// a user with access keys).
var ErrDeleteConflict = errors.New("kms: entity still has dependents")

// ErrUserNotFound and ErrAccessKeyNotFound say which entity is missing
// (IAM NoSuchEntity); both are also ErrNotFound.
var (
	ErrUserNotFound      error = notFoundError("kms: user not found")
	ErrAccessKeyNotFound error = notFoundError("kms: access key not found")
)

type notFoundError string

func (e notFoundError) Error() string        { return string(e) }
func (e notFoundError) Is(target error) bool { return target == ErrNotFound }

// Imported key material errors (issue 11 part B, imported.go).
var (
	ErrInvalidImportToken   = errors.New("kms: invalid import token")                    // InvalidImportTokenException
	ErrExpiredImportToken   = errors.New("kms: import token expired")                    // ExpiredImportTokenException
	ErrIncorrectKeyMaterial = errors.New("kms: key material differs from the key's own") // IncorrectKeyMaterialException
)
