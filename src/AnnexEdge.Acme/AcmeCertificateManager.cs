using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AnnexEdge.Acme.Jose;
using Microsoft.Extensions.Logging;

namespace AnnexEdge.Acme;

/// <summary>
/// Keeps a valid certificate in <see cref="ServingCertificates"/>: loads the stored one, and when it is missing or
/// due, orders a new one under the store lock (so processes sharing the store order once and the others pick it up).
/// </summary>
public sealed partial class AcmeCertificateManager : IDisposable
{
    private readonly AcmeOptions _options;
    private readonly ChallengeResponder _responder;
    private readonly ServingCertificates _serving;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly RenewalPolicy _policy;

    public AcmeCertificateManager(AcmeOptions options, ChallengeResponder responder, ServingCertificates serving, TimeProvider time, ILogger<AcmeCertificateManager> logger)
        : this(options, responder, serving, time, logger, CreateHandler(options.TrustedRootsFile))
    {
    }

    public AcmeCertificateManager(AcmeOptions options, ChallengeResponder responder, ServingCertificates serving, TimeProvider time, ILogger logger, HttpMessageHandler handler)
    {
        _options = options;
        _responder = responder;
        _serving = serving;
        _time = time;
        _logger = logger;
        _http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("AnnexEdge-ACME/1");
        _policy = new RenewalPolicy(options.RenewBefore);
        Store = new CertificateStore(options.StorePath);
    }

    public CertificateStore Store { get; }

    /// <summary>
    /// Serves the stored certificate, and orders one if it is missing, does not cover the domains, or is due
    /// (<paramref name="force"/>: renew now). Returns when to look again. <paramref name="listening"/> completes when
    /// the edge's listeners are bound: the account, the order and its authorizations are set up before (at start-up,
    /// alongside the host's own start), and only the answer that makes the CA validate waits for it.
    /// </summary>
    public async Task<DateTimeOffset> RenewIfDueAsync(bool force, CancellationToken cancellationToken, Task? listening = null)
    {
        listening ??= Task.CompletedTask;
        if (CertificateStore.EnsurePrivateDirectory(Store.Path) is { } wider)
        {
            Log.StoreMadePrivate(_logger, Store.Path, Convert.ToString((int)wider, 8));
        }

        var stored = LoadStored();
        var now = _time.GetUtcNow();
        if (stored is not null && !force)
        {
            var (renewAt, lookAgain) = await RenewalTimeAsync(stored, cancellationToken);
            if (renewAt > now)
            {
                return renewAt < lookAgain ? renewAt : lookAgain;
            }
        }

        using var storeLock = await StoreLock.AcquireAsync(Store.Path, _time, () => Log.WaitingForOtherProcess(_logger, Store.Path), cancellationToken);
        var again = Store.LoadCertificate();
        if (again is not null && again.Covers(_options.Domains) && again.Leaf.Thumbprint != stored?.Leaf.Thumbprint)
        {
            // Another process renewed while we waited for the lock.
            _serving.Set(again);
            Log.CertificatePickedUp(_logger, again.Leaf.Subject, again.Leaf.NotAfter);
            return NextLook(again);
        }

        var issued = await IssueAsync(stored, listening, cancellationToken);
        _serving.Set(issued);
        return NextLook(issued);
    }

    /// <summary>The stored certificate, now served, when it covers every configured domain.</summary>
    public StoredCertificate? LoadStored()
    {
        var stored = Store.LoadCertificate();
        if (stored is null)
        {
            if (_serving.IsFallback)
            {
                Log.FallbackCertificate(_logger, Store.CertificatePath);
            }

            return null;
        }

        if (_serving.Current?.Thumbprint != stored.Leaf.Thumbprint)
        {
            _serving.Set(stored);
            Log.CertificateLoaded(_logger, stored.Leaf.Subject, stored.Leaf.NotAfter, Store.CertificatePath);
        }

        return stored.Covers(_options.Domains) ? stored : null;
    }

    public void Dispose() => _http.Dispose();

    private DateTimeOffset NextLook(StoredCertificate certificate)
    {
        var now = _time.GetUtcNow();
        var renewAt = _policy.RenewAt(certificate.Leaf);
        var lookAgain = now + RenewalPolicy.MaxCheckInterval;
        return renewAt < lookAgain ? renewAt : lookAgain;
    }

    /// <summary>When to renew, from ARI when the server offers it, and when at the latest to look again.</summary>
    private async Task<(DateTimeOffset RenewAt, DateTimeOffset LookAgain)> RenewalTimeAsync(StoredCertificate stored, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var lookAgain = now + RenewalPolicy.MaxCheckInterval;
        RenewalInfo? info = null;
        try
        {
            using var key = AccountKey.Create();
            var client = new AcmeClient(_http, new Uri(_options.DirectoryUrl), key, _time, _logger);
            info = await client.GetRenewalInfoAsync(stored.Leaf, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or AcmeProblemException or System.Text.Json.JsonException or KeyNotFoundException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // ARI is advice: without it the configured renewal point still holds.
            Log.RenewalInfoFailed(_logger, e.Message);
        }

        if (info?.RetryAfter is { } retry && retry > TimeSpan.Zero && now + retry < lookAgain)
        {
            lookAgain = now + retry;
        }

        var renewAt = _policy.RenewAt(stored.Leaf, info, now, Random.Shared);
        var fixedPoint = _policy.RenewAt(stored.Leaf);
        // ARI may move renewal earlier (revocation), never past the configured point.
        return (renewAt < fixedPoint ? renewAt : fixedPoint, lookAgain);
    }

    private async Task<StoredCertificate> IssueAsync(StoredCertificate? previous, Task listening, CancellationToken cancellationToken)
    {
        using var key = Store.LoadOrCreateAccountKey();
        var client = new AcmeClient(_http, new Uri(_options.DirectoryUrl), key, _time, _logger);
        var directory = await client.GetDirectoryAsync(cancellationToken);
        var eabKey = _options.EabHmacKey is { } hmac ? System.Buffers.Text.Base64Url.DecodeFromChars(hmac.TrimEnd('=')) : null;
        var account = await client.NewAccountAsync(_options.Email, _options.AcceptTermsOfService, _options.EabKeyId, eabKey, cancellationToken);
        Log.AccountReady(_logger, account, _options.DirectoryUrl);

        var replaces = previous is not null && directory.RenewalInfo is not null ? AcmeClient.RenewalCertId(previous.Leaf) : null;
        AcmeOrder order;
        try
        {
            order = await client.NewOrderAsync(_options.Domains, replaces, cancellationToken);
        }
        catch (AcmeProblemException e) when (replaces is not null)
        {
            // A server may refuse "replaces" (already replaced, unknown certificate); a plain order still renews.
            Log.OrderFailed(_logger, string.Join(",", _options.Domains), e.Problem.ToString());
            order = await client.NewOrderAsync(_options.Domains, null, cancellationToken);
        }

        Log.OrderStarted(_logger, order.Url, string.Join(",", _options.Domains));
        await AuthorizeAsync(client, key, order, listening, cancellationToken);

        using var certificateKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var finalized = await client.FinalizeAsync(order, Certificates.CreateCsr(certificateKey, _options.Domains), cancellationToken);
        var chain = await client.DownloadCertificateAsync(finalized.Certificate!, _options.PreferredChain, cancellationToken);
        Store.SaveCertificate(chain.Pem, certificateKey);
        var issued = Store.LoadCertificate() ?? throw new AcmeProblemException($"the certificate written to {Store.CertificatePath} cannot be read back");
        Log.CertificateIssued(_logger, issued.Leaf.Subject, issued.Leaf.NotAfter, chain.IssuerNames[^1]);
        return issued;
    }

    private async Task AuthorizeAsync(AcmeClient client, AccountKey key, AcmeOrder order, Task listening, CancellationToken cancellationToken)
    {
        var cleanups = new List<Action>();
        try
        {
            var pending = new List<string>();
            foreach (var url in order.Authorizations)
            {
                var authorization = await client.GetAuthorizationAsync(url, cancellationToken);
                if (authorization.Status == "valid")
                {
                    continue;
                }

                var domain = authorization.Identifier.Value;
                var challenge = _options.ChallengeTypes
                    .Select(type => authorization.Challenges.FirstOrDefault(c => c.Type == type && c.Token is not null))
                    .FirstOrDefault(c => c is not null)
                    ?? throw new AcmeProblemException($"the ACME server offers none of {string.Join(", ", _options.ChallengeTypes)} for {domain} (it offers {string.Join(", ", authorization.Challenges.Select(c => c.Type))})");
                var keyAuthorization = JwkThumbprint.KeyAuthorization(challenge.Token!, key.Thumbprint);
                if (challenge.Type == AcmeOptions.Http01)
                {
                    _responder.AddHttp01(challenge.Token!, keyAuthorization);
                    cleanups.Add(() => _responder.RemoveHttp01(challenge.Token!));
                }
                else
                {
                    var digest = JwkThumbprint.KeyAuthorizationDigest(keyAuthorization);
                    _responder.AddTlsAlpn01(domain, Certificates.CreateTlsAlpnCertificate(domain, digest, _time.GetUtcNow()));
                    cleanups.Add(() => _responder.RemoveTlsAlpn01(domain));
                }

                Log.ChallengePrepared(_logger, challenge.Type, domain);
                // The CA validates at once against our listeners: answering before they are bound fails the order.
                await listening.WaitAsync(cancellationToken);
                await client.AnswerChallengeAsync(challenge.Url, cancellationToken);
                pending.Add(url);
            }

            foreach (var url in pending)
            {
                await client.WaitForAuthorizationAsync(url, cancellationToken);
            }
        }
        finally
        {
            cleanups.ForEach(cleanup => cleanup());
        }
    }

    /// <summary>The ACME server's TLS is checked against the system store (which honours SSL_CERT_FILE) and the optional extra roots.</summary>
    private static SocketsHttpHandler CreateHandler(string? trustedRootsFile)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        if (trustedRootsFile is null)
        {
            return handler;
        }

        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(trustedRootsFile);
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
        {
            if (errors == SslPolicyErrors.None)
            {
                return true;
            }

            if (errors != SslPolicyErrors.RemoteCertificateChainErrors || certificate is null)
            {
                return false;
            }

            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.AddRange(roots);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (chain is not null)
            {
                foreach (var element in chain.ChainElements.Skip(1))
                {
                    custom.ChainPolicy.ExtraStore.Add(element.Certificate);
                }
            }

            return custom.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        };
        return handler;
    }

    private static partial class Log
    {
        [LoggerMessage(AcmeEventIds.CertificateLoaded, LogLevel.Information, "Serving certificate {Subject} valid until {NotAfter} from {Path}")]
        public static partial void CertificateLoaded(ILogger logger, string subject, DateTime notAfter, string path);

        [LoggerMessage(AcmeEventIds.OrderStarted, LogLevel.Information, "ACME order {Order} for {Domains}")]
        public static partial void OrderStarted(ILogger logger, string order, string domains);

        [LoggerMessage(AcmeEventIds.ChallengePrepared, LogLevel.Information, "Answering ACME {Challenge} for {Domain}")]
        public static partial void ChallengePrepared(ILogger logger, string challenge, string domain);

        [LoggerMessage(AcmeEventIds.CertificateIssued, LogLevel.Information, "ACME certificate issued for {Subject}, valid until {NotAfter}, chain to {Root}")]
        public static partial void CertificateIssued(ILogger logger, string subject, DateTime notAfter, string root);

        [LoggerMessage(AcmeEventIds.OrderFailed, LogLevel.Warning, "ACME order for {Domains} failed: {Problem}")]
        public static partial void OrderFailed(ILogger logger, string domains, string problem);

        [LoggerMessage(AcmeEventIds.RenewalInfoFailed, LogLevel.Warning, "ACME renewal information unavailable, using the configured renewal point: {Reason}")]
        public static partial void RenewalInfoFailed(ILogger logger, string reason);

        [LoggerMessage(AcmeEventIds.WaitingForOtherProcess, LogLevel.Information, "Another edge process holds the ACME store lock in {Path}; waiting for its certificate")]
        public static partial void WaitingForOtherProcess(ILogger logger, string path);

        [LoggerMessage(AcmeEventIds.CertificatePickedUp, LogLevel.Information, "Picked up certificate {Subject} valid until {NotAfter} obtained by another edge process")]
        public static partial void CertificatePickedUp(ILogger logger, string subject, DateTime notAfter);

        [LoggerMessage(AcmeEventIds.AccountReady, LogLevel.Information, "ACME account {Account} at {Directory}")]
        public static partial void AccountReady(ILogger logger, string account, string directory);

        [LoggerMessage(AcmeEventIds.FallbackCertificate, LogLevel.Information, "No ACME certificate in {Path} yet: HTTPS serves a self-signed certificate until one is issued")]
        public static partial void FallbackCertificate(ILogger logger, string path);

        [LoggerMessage(AcmeEventIds.StoreMadePrivate, LogLevel.Warning, "Set the ACME store {Path} to mode 700 (it was {Mode}): it holds the account and certificate keys")]
        public static partial void StoreMadePrivate(ILogger logger, string path, string mode);
    }
}
