using System.Diagnostics;
using System.Net;
using System.Text;
using AnnexEdge.Configuration;
using AnnexEdge.Security;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Tests.Security;

public sealed class AuthenticatorTests
{
    private static readonly IPAddress Client = IPAddress.Parse("192.0.2.7");
    private static readonly IPAddress OtherClient = IPAddress.Parse("192.0.2.8");

    private static string Header(string user, string password) =>
        "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password));

    private static AnnexEdgeOptions Options(int iterations = 1000, int failuresPerMinute = 5, bool overHttp = false) => new()
    {
        Users = [new UserOptions { Name = "alice", PasswordHash = PasswordHash.Create("secret", iterations) }],
        AllowBasicAuthOverHttp = overHttp,
        Limits = new LimitsOptions { FailedLoginsPerMinutePerIp = failuresPerMinute },
    };

    private static async Task<CredentialState> StateAsync(Authenticator authenticator, string? header, IPAddress? remote = null, bool secure = true) =>
        (await authenticator.AuthenticateAsync(header, secure, remote ?? Client, CancellationToken.None)).State;

    [Fact]
    public async Task The_right_password_is_valid_and_names_the_user()
    {
        var authenticator = new Authenticator(Options(), new FakeTimeProvider());
        var (state, user) = await authenticator.AuthenticateAsync(Header("alice", "secret"), true, Client, CancellationToken.None);
        Assert.Equal(CredentialState.Valid, state);
        Assert.Equal("alice", user);
    }

    [Fact]
    public async Task Making_an_authenticator_derives_no_hash_however_many_iterations_the_users_have()
    {
        // The decoy for unknown users takes the users' highest count: a billion iterations would take minutes to
        // derive, and the edge makes its authenticator before it listens.
        var options = new AnnexEdgeOptions
        {
            Users = [new UserOptions { Name = "alice", PasswordHash = "pbkdf2-sha256$1000000000$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==" }],
        };
        var making = Task.Run(() => new Authenticator(options, new FakeTimeProvider()));
        await making.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Wrong_passwords_unknown_users_and_garbage_are_invalid()
    {
        var authenticator = new Authenticator(Options(failuresPerMinute: 0), new FakeTimeProvider());
        Assert.Equal(CredentialState.Invalid, await StateAsync(authenticator, Header("alice", "Secret")));
        Assert.Equal(CredentialState.Invalid, await StateAsync(authenticator, Header("mallory", "secret")));
        Assert.Equal(CredentialState.Invalid, await StateAsync(authenticator, "Basic ???"));
        Assert.Equal(CredentialState.Absent, await StateAsync(authenticator, null));
    }

    [Fact]
    public async Task Credentials_over_plain_http_are_not_even_checked_unless_allowed()
    {
        var strict = new Authenticator(Options(), new FakeTimeProvider());
        Assert.Equal(CredentialState.RefusedOverHttp, await StateAsync(strict, Header("alice", "secret"), secure: false));
        Assert.Equal(0, strict.Verifications);

        var lax = new Authenticator(Options(overHttp: true), new FakeTimeProvider());
        Assert.Equal(CredentialState.Valid, await StateAsync(lax, Header("alice", "secret"), secure: false));
    }

    [Fact]
    public async Task A_verified_password_is_remembered_until_the_cache_duration_ends()
    {
        var time = new FakeTimeProvider();
        var authenticator = new Authenticator(Options(), time);
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(CredentialState.Valid, await StateAsync(authenticator, Header("alice", "secret")));
        }

        Assert.Equal(1, authenticator.Verifications);

        // A different (wrong) password for the same user is not served from the cache.
        Assert.Equal(CredentialState.Invalid, await StateAsync(authenticator, Header("alice", "secret2")));
        Assert.Equal(2, authenticator.Verifications);

        time.Advance(new LimitsOptions().CredentialCacheDuration + TimeSpan.FromSeconds(1));
        Assert.Equal(CredentialState.Valid, await StateAsync(authenticator, Header("alice", "secret")));
        Assert.Equal(3, authenticator.Verifications);
    }

    [Fact]
    public async Task Too_many_failures_for_a_user_name_from_an_address_block_its_logins_there_for_the_rest_of_the_minute()
    {
        var time = new FakeTimeProvider();
        var authenticator = new Authenticator(Options(failuresPerMinute: 5), time);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(CredentialState.Invalid, await StateAsync(authenticator, Header("alice", "guess" + i)));
        }

        // Even the right password is not checked now; other addresses are unaffected.
        Assert.Equal(CredentialState.Throttled, await StateAsync(authenticator, Header("alice", "secret")));
        Assert.Equal(CredentialState.Valid, await StateAsync(authenticator, Header("alice", "secret"), OtherClient));
        Assert.Equal(6, authenticator.Verifications);

        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(CredentialState.Valid, await StateAsync(authenticator, Header("alice", "secret")));
    }

    [Fact]
    public async Task A_concurrent_burst_of_bad_passwords_from_one_address_checks_only_PasswordChecksPerIp_and_refuses_the_rest_at_once()
    {
        var authenticator = new Authenticator(Options(iterations: PasswordHash.DefaultIterations, failuresPerMinute: 20), new FakeTimeProvider());
        var burst = Enumerable.Range(0, 100)
            .Select(i => authenticator.AuthenticateAsync(Header("alice", "guess" + i), true, Client, CancellationToken.None).AsTask())
            .ToList();

        // Refused without waiting for any check: they are answered before the first check could end.
        var refusedAtOnce = burst.Count(t => t.IsCompleted && t.Result.State == CredentialState.Busy);
        var states = (await Task.WhenAll(burst)).Select(r => r.State).ToList();

        Assert.Equal(98, refusedAtOnce);
        Assert.Equal(2, states.Count(s => s == CredentialState.Invalid));
        Assert.Equal(2, authenticator.Verifications);
    }

    [Fact]
    public async Task A_remembered_password_is_accepted_after_a_burst_of_failures_from_its_address()
    {
        var authenticator = new Authenticator(Options(failuresPerMinute: 5), new FakeTimeProvider());
        Assert.Equal(CredentialState.Valid, await StateAsync(authenticator, Header("alice", "secret")));
        await Task.WhenAll(Enumerable.Range(0, 100).Select(i => StateAsync(authenticator, Header("mallory", "guess" + i))));
        for (var i = 0; i < 5; i++)
        {
            await StateAsync(authenticator, Header("mallory", "again" + i));
        }

        Assert.Equal(CredentialState.Throttled, await StateAsync(authenticator, Header("mallory", "more")));
        Assert.Equal(CredentialState.Valid, await StateAsync(authenticator, Header("alice", "secret")));
    }

    [Fact]
    public async Task Beyond_FailedPasswordChecksPerMinutePerIp_an_address_gets_no_more_checks_but_remembered_passwords_still_pass()
    {
        var options = Options(failuresPerMinute: 20);
        options.Limits.FailedPasswordChecksPerMinutePerIp = 3;
        options.Users.Add(new UserOptions { Name = "bob", PasswordHash = PasswordHash.Create("bobs", 1000) });
        var authenticator = new Authenticator(options, new FakeTimeProvider());
        Assert.Equal(CredentialState.Valid, await StateAsync(authenticator, Header("alice", "secret")));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(CredentialState.Invalid, await StateAsync(authenticator, Header("user" + i, "guess")));
        }

        var checks = authenticator.Verifications;
        Assert.Equal(CredentialState.Throttled, await StateAsync(authenticator, Header("bob", "bobs")));
        Assert.Equal(CredentialState.Valid, await StateAsync(authenticator, Header("alice", "secret")));
        Assert.Equal(CredentialState.Valid, await StateAsync(authenticator, Header("bob", "bobs"), OtherClient));
        Assert.Equal(checks + 1, authenticator.Verifications);
    }

    [Fact]
    public async Task Concurrent_first_requests_with_the_same_credentials_share_one_check_and_none_is_refused()
    {
        var authenticator = new Authenticator(Options(iterations: PasswordHash.DefaultIterations), new FakeTimeProvider());
        var jobs = Enumerable.Range(0, 8)
            .Select(_ => authenticator.AuthenticateAsync(Header("alice", "secret"), true, Client, CancellationToken.None).AsTask())
            .ToList();

        var states = (await Task.WhenAll(jobs)).Select(r => r.State);

        Assert.All(states, s => Assert.Equal(CredentialState.Valid, s));
        Assert.Equal(1, authenticator.Verifications);
    }

    /// <summary>The measurement behind CredentialCacheDuration: what a request would cost without the cache.</summary>
    [Fact]
    public async Task With_600000_iterations_only_the_first_request_pays_for_pbkdf2()
    {
        var authenticator = new Authenticator(Options(iterations: PasswordHash.DefaultIterations), new FakeTimeProvider());
        var first = Stopwatch.StartNew();
        Assert.Equal(CredentialState.Valid, await StateAsync(authenticator, Header("alice", "secret")));
        first.Stop();

        var rest = Stopwatch.StartNew();
        for (var i = 0; i < 1000; i++)
        {
            await StateAsync(authenticator, Header("alice", "secret"));
        }

        rest.Stop();
        TestContext.Current.SendDiagnosticMessage($"first verification {first.Elapsed.TotalMilliseconds:0} ms; 1000 cached {rest.Elapsed.TotalMilliseconds:0} ms");
        Assert.Equal(1, authenticator.Verifications);
        Assert.True(rest.Elapsed < first.Elapsed, $"1000 cached checks took {rest.Elapsed}, one PBKDF2 took {first.Elapsed}");
    }
}
