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
/// cache never holds anything from which a password can be brute-forced offline. Checks are bounded by the
/// <see cref="LoginThrottle"/> before they start and share the cores fairly through the <see cref="PasswordCheckScheduler"/>;
/// concurrent requests with the same credentials (a client's first parallel jobs) share one check.
/// </summary>
internal sealed class Authenticator
{
    private const int MaxCachedCredentials = 10_000;

    private volatile FrozenDictionary<string, PasswordHash> _users;
    private readonly PasswordHash _decoy;
    private readonly bool _allowOverHttp;
    private readonly TimeSpan _cacheDuration;
    private readonly TimeProvider _time;
    private readonly LoginThrottle _throttle;
    private readonly PasswordCheckScheduler _scheduler;
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, (string User, DateTimeOffset Expires)> _verified = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task<bool?>> _checking = new(StringComparer.Ordinal);
    private long _verificationCount;

    public Authenticator(AnnexEdgeOptions options, TimeProvider time)
    {
        _users = Users(options);
        // Unknown users are checked against this so that timing does not tell which user names exist.
        var iterations = _users.Values.Select(h => h.Iterations).DefaultIfEmpty(PasswordHash.DefaultIterations).Max();
        _decoy = PasswordHash.Decoy(iterations);
        _allowOverHttp = options.AllowBasicAuthOverHttp;
        _cacheDuration = options.Limits.CredentialCacheDuration;
        _time = time;
        _throttle = new LoginThrottle(options.Limits, time);
        var concurrency = options.Limits.ConcurrentPasswordChecks;
        _scheduler = new PasswordCheckScheduler(concurrency > 0 ? concurrency : Math.Max(1, Environment.ProcessorCount));
    }

    /// <summary>
    /// Checks credentials against the users of a reloaded configuration from now on. Remembered logins are forgotten,
    /// so a removed user or a changed password is refused at once; the login throttles carry over.
    /// </summary>
    public void ReplaceUsers(AnnexEdgeOptions options)
    {
        _users = Users(options);
        _verified.Clear();
    }

    /// <summary>Number of PBKDF2 verifications started (for tests and the cache measurement).</summary>
    public long Verifications => Interlocked.Read(ref _verificationCount);

    /// <summary>PBKDF2 verifications running now.</summary>
    public int VerificationsRunning => _scheduler.Running;

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

        if (!BasicCredentials.TryParse(authorization, out var credentials))
        {
            // Costs nothing and guesses nothing: not counted.
            return (CredentialState.Invalid, null);
        }

        var address = remote ?? IPAddress.None;
        // Before the cache, so that a blocked (address, user name) cannot go on guessing against remembered passwords.
        if (_throttle.IsBlocked(address, credentials.User))
        {
            return (CredentialState.Throttled, null);
        }

        var cacheKey = CacheKey(credentials);
        while (true)
        {
            if (_verified.TryGetValue(cacheKey, out var cached) && cached.Expires > _time.GetUtcNow())
            {
                return (CredentialState.Valid, cached.User);
            }

            if (_checking.TryGetValue(cacheKey, out var running))
            {
                // Null: that check never ran (its client went away); take a turn of our own.
                if (await running.WaitAsync(cancellationToken) is { } shared)
                {
                    if (shared)
                    {
                        return (CredentialState.Valid, credentials.User);
                    }

                    _throttle.RecordFailure(address, credentials.User);
                    return (CredentialState.Invalid, null);
                }

                continue;
            }

            switch (_throttle.TryStart(address, credentials.User, out var attempt))
            {
                case LoginStart.TooManyFailures:
                    return (CredentialState.Throttled, null);
                case LoginStart.TooManyRunning:
                    return (CredentialState.Busy, null);
            }

            var outcome = new TaskCompletionSource<bool?>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!_checking.TryAdd(cacheKey, outcome.Task))
            {
                // Another request with the same credentials got there first: share its check.
                attempt!.Release();
                continue;
            }

            bool? valid = null;
            try
            {
                valid = await _scheduler.RunAsync(address, () => Verify(credentials), cancellationToken);
            }
            finally
            {
                if (valid == false)
                {
                    attempt!.Failed();
                }
                else
                {
                    attempt!.Release();
                }

                if (valid == true)
                {
                    Remember(cacheKey, credentials.User);
                }

                _checking.TryRemove(new KeyValuePair<string, Task<bool?>>(cacheKey, outcome.Task));
                outcome.SetResult(valid);
            }

            return valid == true ? (CredentialState.Valid, credentials.User) : (CredentialState.Invalid, null);
        }
    }

    private bool Verify(BasicCredentials credentials)
    {
        var known = _users.TryGetValue(credentials.User, out var hash);
        Interlocked.Increment(ref _verificationCount);
        var matches = (hash ?? _decoy).Verify(credentials.Password);
        return known && matches;
    }

    private void Remember(string cacheKey, string user)
    {
        if (_cacheDuration <= TimeSpan.Zero)
        {
            return;
        }

        if (_verified.Count >= MaxCachedCredentials)
        {
            _verified.Clear();
        }

        _verified[cacheKey] = (user, _time.GetUtcNow() + _cacheDuration);
    }

    private string CacheKey(BasicCredentials credentials) =>
        Convert.ToBase64String(HMACSHA256.HashData(_cacheKey, Encoding.UTF8.GetBytes(credentials.User + "\0" + credentials.Password)));

    private static FrozenDictionary<string, PasswordHash> Users(AnnexEdgeOptions options) => options.Users
        .Select(u => (u.Name, Hash: PasswordHash.TryParse(u.PasswordHash, out var h) ? h : null))
        .Where(u => u.Hash is not null)
        .ToFrozenDictionary(u => u.Name, u => u.Hash!, StringComparer.Ordinal);
}
