namespace AnnexEdge.Security;

/// <summary>The outcome of the access check of one request.</summary>
internal enum AccessDecision
{
    Allow,

    /// <summary>401 with <c>WWW-Authenticate</c>: credentials are needed, or the ones given are wrong.</summary>
    NeedCredentials,

    /// <summary>403: the principal is known (or cannot authenticate here) and may not do this.</summary>
    Forbidden,

    /// <summary>403: credentials came over plain HTTP and <c>AllowBasicAuthOverHttp</c> is off.</summary>
    CredentialsNeedHttps,

    /// <summary>429: too many failed logins from this address; the password was not even checked.</summary>
    TooManyFailedLogins,

    /// <summary>429: the address already has <c>PasswordChecksPerIp</c> password checks running; this one was not started.</summary>
    TooManyPasswordChecks,
}
