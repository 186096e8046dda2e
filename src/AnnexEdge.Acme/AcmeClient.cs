using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AnnexEdge.Acme.Jose;
using Microsoft.Extensions.Logging;

namespace AnnexEdge.Acme;

/// <summary>
/// An RFC 8555 client: signed requests with nonce handling (badNonce is retried with the fresh nonce the error
/// carries), account, orders, authorizations, challenges, finalization, certificate download, and RFC 9773 ARI.
/// </summary>
public sealed partial class AcmeClient
{
    private const int BadNonceRetries = 10;
    private static readonly MediaTypeHeaderValue JoseJson = new("application/jose+json");

    private readonly HttpClient _http;
    private readonly Uri _directoryUrl;
    private readonly AccountKey _key;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private AcmeDirectory? _directory;
    private string? _nonce;

    public AcmeClient(HttpClient http, Uri directoryUrl, AccountKey key, TimeProvider time, ILogger logger)
    {
        _http = http;
        _directoryUrl = directoryUrl;
        _key = key;
        _time = time;
        _logger = logger;
    }

    /// <summary>The account URL (the JWS <c>kid</c>), known after <see cref="NewAccountAsync"/>.</summary>
    public string? AccountUrl { get; private set; }

    /// <summary>Longest wait between polls; servers may ask for more with Retry-After, which we cap here.</summary>
    public TimeSpan MaxPollInterval { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan PollTimeout { get; init; } = TimeSpan.FromMinutes(3);

    public async Task<AcmeDirectory> GetDirectoryAsync(CancellationToken cancellationToken)
    {
        if (_directory is null)
        {
            using var response = await _http.GetAsync(_directoryUrl, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new AcmeProblemException(AcmeProblem.Parse(body, (int)response.StatusCode), _directoryUrl.ToString());
            }

            _directory = JsonSerializer.Deserialize<AcmeDirectory>(body)
                ?? throw new AcmeProblemException($"ACME directory {_directoryUrl} is empty");
        }

        return _directory;
    }

    /// <summary>Creates the account, or finds the existing one for this key (the server answers 200 then).</summary>
    public async Task<string> NewAccountAsync(string? email, bool termsOfServiceAgreed, string? eabKeyId, byte[]? eabHmacKey, CancellationToken cancellationToken)
    {
        var directory = await GetDirectoryAsync(cancellationToken);
        var payload = new JsonObject { ["termsOfServiceAgreed"] = termsOfServiceAgreed };
        if (!string.IsNullOrEmpty(email))
        {
            payload["contact"] = new JsonArray("mailto:" + email);
        }

        if (eabKeyId is not null && eabHmacKey is not null)
        {
            payload["externalAccountBinding"] = _key.ExternalAccountBinding(directory.NewAccount, eabKeyId, eabHmacKey);
        }

        using var response = await PostAsync(directory.NewAccount, payload, useJwk: true, cancellationToken);
        AccountUrl = response.Location ?? throw new AcmeProblemException("newAccount answered without a Location header");
        return AccountUrl;
    }

    public async Task<AcmeOrder> NewOrderAsync(IEnumerable<string> domains, string? replaces, CancellationToken cancellationToken)
    {
        var directory = await GetDirectoryAsync(cancellationToken);
        var payload = new JsonObject
        {
            ["identifiers"] = new JsonArray(domains.Select(d => (JsonNode)new JsonObject { ["type"] = "dns", ["value"] = d }).ToArray()),
        };
        if (replaces is not null)
        {
            payload["replaces"] = replaces;
        }

        using var response = await PostAsync(directory.NewOrder, payload, useJwk: false, cancellationToken);
        return response.Json<AcmeOrder>() with { Url = response.Location ?? throw new AcmeProblemException("newOrder answered without a Location header") };
    }

    public async Task<AcmeOrder> GetOrderAsync(string url, CancellationToken cancellationToken)
    {
        using var response = await PostAsync(url, null, useJwk: false, cancellationToken);
        return response.Json<AcmeOrder>() with { Url = url };
    }

    public async Task<AcmeAuthorization> GetAuthorizationAsync(string url, CancellationToken cancellationToken)
    {
        using var response = await PostAsync(url, null, useJwk: false, cancellationToken);
        return response.Json<AcmeAuthorization>();
    }

    /// <summary>Tells the server the challenge is ready (RFC 8555 §7.5.1: an empty JSON object).</summary>
    public async Task AnswerChallengeAsync(string url, CancellationToken cancellationToken)
    {
        using var _ = await PostAsync(url, new JsonObject(), useJwk: false, cancellationToken);
    }

    /// <summary>Polls the authorization until it is valid; an invalid one throws with the challenge's problem.</summary>
    public async Task<AcmeAuthorization> WaitForAuthorizationAsync(string url, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + PollTimeout;
        for (var polls = 0; ; polls++)
        {
            using var response = await PostAsync(url, null, useJwk: false, cancellationToken);
            var authorization = response.Json<AcmeAuthorization>();
            switch (authorization.Status)
            {
                case "valid":
                    return authorization;
                case "pending" or "processing" when _time.GetUtcNow() < deadline:
                    await Task.Delay(PollPolicy.Delay(polls, response.RetryAfter, MaxPollInterval), _time, cancellationToken);
                    break;
                default:
                    var failed = authorization.Challenges.FirstOrDefault(c => c.Error is not null);
                    var problem = failed?.Error is { } error
                        ? AcmeProblem.FromJson(error)
                        : new AcmeProblem("about:blank", $"authorization for {authorization.Identifier.Value} is {authorization.Status}", null, [], authorization.Identifier.Value);
                    throw new AcmeProblemException(problem, url);
            }
        }
    }

    /// <summary>Sends the CSR and polls the order until the certificate is ready.</summary>
    public async Task<AcmeOrder> FinalizeAsync(AcmeOrder order, byte[] csrDer, CancellationToken cancellationToken)
    {
        using (var _ = await PostAsync(order.Finalize, new JsonObject { ["csr"] = System.Buffers.Text.Base64Url.EncodeToString(csrDer) }, useJwk: false, cancellationToken))
        {
        }

        var deadline = _time.GetUtcNow() + PollTimeout;
        for (var polls = 0; ; polls++)
        {
            using var response = await PostAsync(order.Url, null, useJwk: false, cancellationToken);
            var current = response.Json<AcmeOrder>() with { Url = order.Url };
            switch (current.Status)
            {
                case "valid" when current.Certificate is not null:
                    return current;
                case "processing" or "ready" or "pending" or "valid" when _time.GetUtcNow() < deadline:
                    await Task.Delay(PollPolicy.Delay(polls, response.RetryAfter, MaxPollInterval), _time, cancellationToken);
                    break;
                default:
                    var problem = current.Error is { } error
                        ? AcmeProblem.FromJson(error)
                        : new AcmeProblem("about:blank", $"order is {current.Status}", null, [], null);
                    throw new AcmeProblemException(problem, order.Url);
            }
        }
    }

    /// <summary>
    /// Downloads the chain; when <paramref name="preferredChain"/> names an issuer (CN) of another chain offered by
    /// Link rel="alternate" (RFC 8555 §7.4.2), that chain is used instead.
    /// </summary>
    public async Task<CertificateChain> DownloadCertificateAsync(string url, string? preferredChain, CancellationToken cancellationToken)
    {
        using var response = await PostAsync(url, null, useJwk: false, cancellationToken);
        var chain = ParseChain(response.Body);
        if (string.IsNullOrEmpty(preferredChain) || chain.IssuerNames.Contains(preferredChain, StringComparer.OrdinalIgnoreCase))
        {
            return chain;
        }

        foreach (var alternate in response.Links("alternate"))
        {
            using var other = await PostAsync(alternate, null, useJwk: false, cancellationToken);
            var candidate = ParseChain(other.Body);
            if (candidate.IssuerNames.Contains(preferredChain, StringComparer.OrdinalIgnoreCase))
            {
                return candidate;
            }
        }

        return chain;
    }

    /// <summary>RFC 9773 renewal information, or null when the directory does not offer it.</summary>
    public async Task<RenewalInfo?> GetRenewalInfoAsync(X509Certificate2 certificate, CancellationToken cancellationToken)
    {
        var directory = await GetDirectoryAsync(cancellationToken);
        if (directory.RenewalInfo is null || RenewalCertId(certificate) is not { } certId)
        {
            return null;
        }

        var url = directory.RenewalInfo.TrimEnd('/') + "/" + certId;
        using var response = await _http.GetAsync(url, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new AcmeProblemException(AcmeProblem.Parse(body, (int)response.StatusCode), url);
        }

        using var json = JsonDocument.Parse(body);
        var window = json.RootElement.GetProperty("suggestedWindow");
        var explanation = json.RootElement.TryGetProperty("explanationURL", out var e) ? e.GetString() : null;
        return new RenewalInfo(
            window.GetProperty("start").GetDateTimeOffset(),
            window.GetProperty("end").GetDateTimeOffset(),
            RetryAfter(response.Headers.RetryAfter),
            explanation);
    }

    /// <summary>The ARI certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial) (RFC 9773 §4.1).</summary>
    public static string? RenewalCertId(X509Certificate2 certificate)
    {
        var aki = certificate.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().FirstOrDefault();
        if (aki?.KeyIdentifier is not { } keyId)
        {
            return null;
        }

        return System.Buffers.Text.Base64Url.EncodeToString(keyId.Span) + "." + System.Buffers.Text.Base64Url.EncodeToString(certificate.SerialNumberBytes.Span);
    }

    internal static CertificateChain ParseChain(string pem)
    {
        var issuers = new List<string>();
        foreach (Match block in PemCertificate().Matches(pem))
        {
            using var certificate = X509Certificate2.CreateFromPem(block.Value);
            issuers.Add(certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: true));
        }

        if (issuers.Count == 0)
        {
            throw new AcmeProblemException("the certificate download holds no PEM certificate");
        }

        return new CertificateChain(pem, issuers);
    }

    private TimeSpan? RetryAfter(RetryConditionHeaderValue? header) => header switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - _time.GetUtcNow(),
        _ => null,
    };

    /// <summary>A signed POST; a badNonce answer is retried with the nonce it carries (RFC 8555 §6.5).</summary>
    private async Task<AcmeResponse> PostAsync(string url, JsonNode? payload, bool useJwk, CancellationToken cancellationToken)
    {
        var keyId = useJwk ? null : AccountUrl ?? throw new InvalidOperationException("no ACME account yet");
        for (var attempt = 0; ; attempt++)
        {
            var nonce = await TakeNonceAsync(cancellationToken);
            var jws = _key.Sign(url, nonce, keyId, payload?.DeepClone());
            using var request = new HttpRequestMessage(HttpMethod.Post, url)
            {
                Content = new StringContent(jws.ToJsonString(), Encoding.UTF8),
            };
            request.Content.Headers.ContentType = JoseJson;
            var response = await _http.SendAsync(request, cancellationToken);
            KeepNonce(response);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return new AcmeResponse(response, body, RetryAfter(response.Headers.RetryAfter));
            }

            var problem = AcmeProblem.Parse(body, (int)response.StatusCode);
            response.Dispose();
            if (problem.IsBadNonce && attempt < BadNonceRetries)
            {
                Log.BadNonceRetried(_logger, url, attempt + 1);
                continue;
            }

            throw new AcmeProblemException(problem, url);
        }
    }

    private async Task<string> TakeNonceAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _nonce, null) is { } nonce)
        {
            return nonce;
        }

        var directory = await GetDirectoryAsync(cancellationToken);
        using var request = new HttpRequestMessage(HttpMethod.Head, directory.NewNonce);
        using var response = await _http.SendAsync(request, cancellationToken);
        return response.Headers.TryGetValues("Replay-Nonce", out var values) && values.FirstOrDefault() is { } fresh
            ? fresh
            : throw new AcmeProblemException($"newNonce ({directory.NewNonce}) answered {(int)response.StatusCode} without a Replay-Nonce");
    }

    private void KeepNonce(HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues("Replay-Nonce", out var values) && values.FirstOrDefault() is { } nonce)
        {
            _nonce = nonce;
        }
    }

    [GeneratedRegex("-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----")]
    private static partial Regex PemCertificate();

    private sealed class AcmeResponse(HttpResponseMessage response, string body, TimeSpan? retryAfter) : IDisposable
    {
        public string Body => body;

        public TimeSpan? RetryAfter => retryAfter;

        public string? Location => response.Headers.Location?.ToString();

        public T Json<T>() => JsonSerializer.Deserialize<T>(body) ?? throw new AcmeProblemException($"empty ACME answer from {response.RequestMessage?.RequestUri}");

        /// <summary>The targets of <c>Link: &lt;url&gt;;rel="name"</c> headers.</summary>
        public IEnumerable<string> Links(string rel)
        {
            if (!response.Headers.TryGetValues("Link", out var values))
            {
                yield break;
            }

            foreach (var value in values.SelectMany(v => v.Split(',')))
            {
                var match = LinkHeader().Match(value);
                if (match.Success && match.Groups["rel"].Value == rel)
                {
                    yield return new Uri(response.RequestMessage!.RequestUri!, match.Groups["url"].Value).ToString();
                }
            }
        }

        public void Dispose() => response.Dispose();
    }

    [GeneratedRegex("""^\s*<(?<url>[^>]+)>\s*;\s*rel="?(?<rel>[^";]+)"?""")]
    private static partial Regex LinkHeader();

    private static partial class Log
    {
        [LoggerMessage(AcmeEventIds.BadNonceRetried, LogLevel.Debug, "ACME server refused the nonce of a request to {Url}; retrying with a fresh one (attempt {Attempt})")]
        public static partial void BadNonceRetried(ILogger logger, string url, int attempt);
    }
}
