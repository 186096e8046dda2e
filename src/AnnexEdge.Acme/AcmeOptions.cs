namespace AnnexEdge.Acme;

/// <summary>
/// The <c>AnnexEdge:Acme</c> section: automatic HTTPS. Names are a contract with operators: never rename them.
/// </summary>
public sealed class AcmeOptions
{
    public const string LetsEncryptProduction = "https://acme-v02.api.letsencrypt.org/directory";
    public const string Http01 = "http-01";
    public const string TlsAlpn01 = "tls-alpn-01";

    public bool Enabled { get; set; }

    /// <summary>The ACME directory; Let's Encrypt staging is https://acme-staging-v02.api.letsencrypt.org/directory.</summary>
    public string DirectoryUrl { get; set; } = LetsEncryptProduction;

    /// <summary>Contact for the account (expiry and policy mail from the CA); optional.</summary>
    public string? Email { get; set; }

    /// <summary>Must be true: the operator agrees to the CA's terms of service (the directory's meta.termsOfService).</summary>
    public bool AcceptTermsOfService { get; set; }

    /// <summary>DNS names of the certificate (its SANs); one certificate covers them all.</summary>
    public List<string> Domains { get; set; } = [];

    /// <summary>
    /// Challenge types in order of preference: <c>http-01</c> (needs port 80), <c>tls-alpn-01</c> (needs port 443).
    /// Unset means both, http-01 first. (No default list here: configuration binding appends to a list it finds.)
    /// </summary>
    public List<string>? Challenges { get; set; }

    public IReadOnlyList<string> ChallengeTypes => Challenges ?? [Http01, TlsAlpn01];

    /// <summary>Directory of the account key, certificates and lock; shared by edge processes of one name.</summary>
    public string StorePath { get; set; } = "certs/";

    /// <summary>Renew when this much validity remains; default (unset) is one third of the certificate's lifetime.</summary>
    public TimeSpan? RenewBefore { get; set; }

    /// <summary>PEM roots trusted for the ACME server's own TLS, besides the system store (a private CA such as Pebble).</summary>
    public string? TrustedRootsFile { get; set; }

    /// <summary>External Account Binding key id, when the CA requires one.</summary>
    public string? EabKeyId { get; set; }

    /// <summary>External Account Binding HMAC key, base64url as CAs hand it out.</summary>
    public string? EabHmacKey { get; set; }

    /// <summary>Common name of the issuer (e.g. a root) whose chain to prefer among the ones offered.</summary>
    public string? PreferredChain { get; set; }

    /// <summary>Redirect plain-HTTP requests other than ACME challenges to HTTPS.</summary>
    public bool RedirectHttpToHttps { get; set; } = true;

    /// <summary>Leave /git-annex/ requests on plain HTTP alone (not redirected) when redirecting the rest.</summary>
    public bool AllowAnnexOverHttp { get; set; }

    /// <summary>One line per offending setting, named by its full configuration path.</summary>
    public IReadOnlyList<string> Errors(string section)
    {
        var errors = new List<string>();
        if (!Enabled)
        {
            return errors;
        }

        if (!AcceptTermsOfService)
        {
            errors.Add($"{section}:AcceptTermsOfService must be true: read the terms of service of the CA at {DirectoryUrl} and set it to agree to them");
        }

        if (!Uri.TryCreate(DirectoryUrl, UriKind.Absolute, out var directory) || directory.Scheme != Uri.UriSchemeHttps)
        {
            errors.Add($"{section}:DirectoryUrl \"{DirectoryUrl}\" is not an https:// URL of an ACME directory");
        }

        if (Domains.Count == 0)
        {
            errors.Add($"{section}:Domains is empty: list the DNS names the certificate is for");
        }

        foreach (var domain in Domains.Where(d => Uri.CheckHostName(d) != UriHostNameType.Dns || d.StartsWith("*.", StringComparison.Ordinal)))
        {
            errors.Add($"{section}:Domains \"{domain}\" is not a DNS name (wildcards need dns-01, which is not supported)");
        }

        if (Challenges is { Count: 0 })
        {
            errors.Add($"{section}:Challenges is empty: use {Http01} and/or {TlsAlpn01}");
        }

        foreach (var challenge in ChallengeTypes.Where(c => c is not (Http01 or TlsAlpn01)))
        {
            errors.Add($"{section}:Challenges \"{challenge}\" is unknown; use {Http01} or {TlsAlpn01}");
        }

        if (string.IsNullOrWhiteSpace(StorePath))
        {
            errors.Add($"{section}:StorePath is empty: give a directory for the account key and certificates");
        }

        if (RenewBefore is { } renewBefore && renewBefore <= TimeSpan.Zero)
        {
            errors.Add($"{section}:RenewBefore must be a positive duration (e.g. \"30.00:00:00\")");
        }

        if (TrustedRootsFile is { } roots && !File.Exists(roots))
        {
            errors.Add($"{section}:TrustedRootsFile \"{roots}\" does not exist");
        }

        if ((EabKeyId is null) != (EabHmacKey is null))
        {
            errors.Add($"{section}:EabKeyId and EabHmacKey go together: set both or neither");
        }
        else if (EabHmacKey is { } hmac && !IsBase64Url(hmac))
        {
            errors.Add($"{section}:EabHmacKey is not base64url");
        }

        if (Email is { } email && (!email.Contains('@', StringComparison.Ordinal) || email.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase)))
        {
            errors.Add($"{section}:Email \"{email}\" is not an e-mail address (give it without mailto:)");
        }

        return errors;
    }

    private static bool IsBase64Url(string text)
    {
        try
        {
            return System.Buffers.Text.Base64Url.DecodeFromChars(text.TrimEnd('=')).Length > 0;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
