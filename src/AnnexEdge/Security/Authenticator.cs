using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using AnnexEdge.Configuration;

namespace AnnexEdge.Security;

/// <summary>
/// Checks Basic credentials against the configured users. A verified (user, password) is remembered for a while
/// under an HMAC with a key of this process, so a client copying thousands of files pays PBKDF2 once, and the
/// cache never holds anything from which a password can be brute-forced offline. Verifications run at most one
/// per core at a time, so a flood of logins cannot take every thread from the transfers.
/// </summary>
internal sealed class Authenticator : IDisposable
{
    private const int MaxCachedCredentials = 10_000;

    private readonly FrozenDictionary<string, PasswordHash> _users;
    private readonly PasswordHash _decoy;
    private readonly bool _allowOverHttp;
    private readonly TimeSpan _cacheDuration;
    private readonly TimeProvider _time;
    private readonly LoginThrottle _throttle;
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, (string User, DateTimeOffset Expires)> _verified = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _verifications = new(Math.Max(1, Environment.ProcessorCount));

    public Authenticator(AnnexEdgeOptions options, TimeProvider time)
    {
        _users = options.Users
            .Select(u => (u.Name, Hash: PasswordHash.TryParse(u.PasswordHash, out var h) ? h : null))
            .Where(u => u.Hash is not null)
            .ToFrozenDictionary(u => u.Name, u => u.Hash!, StringComparer.Ordinal);
        // Unknown users are checked against this so that timing does not tell which user names exist.
        var iterations = _users.Values.Select(h => h.Iterations).DefaultIfEmpty(PasswordHash.DefaultIterations).Max();
        _decoy = PasswordHash.Parse(PasswordHash.Create(Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)), iterations));
        _allowOverHttp = options.AllowBasicAuthOverHttp;
        _cacheDuration = options.Limits.CredentialCacheDuration;
        _time = time;
        _throttle = new LoginThrottle(options.Limits.FailedLoginsPerMinutePerIp, time);
    }

    /// <summary>Number of PBKDF2 verifications done (for tests and the cache measurement).</summary>
    public long Verifications => Interlocked.Read(ref _verificationCount);

    private long _verificationCount;

    public async ValueTask<(CredentialState State, string? User)> AuthenticateAsync(
        string? authorization, bool secureChannel, IPAddress? remote, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(authorization))
        {
            return (CredentialState.Absent, null);
        }

        if (!secureChannel && !_allowOverHttp)
        {
            return (CredentialState.RefusedOverHttp, null);
        }

        if (_throttle.IsBlocked(remote))
        {
            return (CredentialState.Throttled, null);
        }

        if (!BasicCredentials.TryParse(authorization, out var credentials))
        {
            _throttle.RecordFailure(remote);
            return (CredentialState.Invalid, null);
        }

        var cacheKey = CacheKey(credentials);
        var now = _time.GetUtcNow();
        if (_verified.TryGetValue(cacheKey, out var cached) && cached.Expires > now)
        {
            return (CredentialState.Valid, cached.User);
        }

        if (!await VerifyAsync(credentials, cancellationToken))
        {
            _throttle.RecordFailure(remote);
            return (CredentialState.Invalid, null);
        }

        if (_cacheDuration > TimeSpan.Zero)
        {
            if (_verified.Count >= MaxCachedCredentials)
            {
                _verified.Clear();
            }

            _verified[cacheKey] = (credentials.User, now + _cacheDuration);
        }

        return (CredentialState.Valid, credentials.User);
    }

    private async Task<bool> VerifyAsync(BasicCredentials credentials, CancellationToken cancellationToken)
    {
        var known = _users.TryGetValue(credentials.User, out var hash);
        await _verifications.WaitAsync(cancellationToken);
        try
        {
            Interlocked.Increment(ref _verificationCount);
            var matches = (hash ?? _decoy).Verify(credentials.Password);
            return known && matches;
        }
        finally
        {
            _verifications.Release();
        }
    }

    public void Dispose() => _verifications.Dispose();

    private string CacheKey(BasicCredentials credentials) =>
        Convert.ToBase64String(HMACSHA256.HashData(_cacheKey, Encoding.UTF8.GetBytes(credentials.User + "\0" + credentials.Password)));
}
