using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Acme.Tests;

public sealed class RenewalTests : IDisposable
{
    private static readonly DateTimeOffset Issued = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("acme-renewal-").FullName;

    [Fact]
    public void Default_renewal_point_is_when_one_third_of_the_lifetime_remains()
    {
        using var certificate = Leaf(TimeSpan.FromDays(90));

        Assert.Equal(Issued.AddDays(60), new RenewalPolicy(null).RenewAt(certificate));
        Assert.Equal(Issued.AddDays(76), new RenewalPolicy(TimeSpan.FromDays(14)).RenewAt(certificate));
    }

    [Fact]
    public void RenewBefore_not_shorter_than_the_lifetime_falls_back_to_one_third_instead_of_renewing_in_a_loop()
    {
        using var certificate = Leaf(TimeSpan.FromDays(6));

        Assert.Equal(Issued.AddDays(4), new RenewalPolicy(TimeSpan.FromDays(30)).RenewAt(certificate));
    }

    [Fact]
    public void Renewal_information_window_gives_a_time_inside_it_or_now_once_it_has_begun()
    {
        using var certificate = Leaf(TimeSpan.FromDays(90));
        var policy = new RenewalPolicy(null);
        var window = new RenewalInfo(Issued.AddDays(40), Issued.AddDays(42), null, null);

        for (var seed = 0; seed < 20; seed++)
        {
            var at = policy.RenewAt(certificate, window, Issued.AddDays(10), new Random(seed));
            Assert.InRange(at, window.WindowStart, window.WindowEnd);
        }

        Assert.Equal(Issued.AddDays(41), policy.RenewAt(certificate, window, Issued.AddDays(41), new Random(1)));
        Assert.Equal(Issued.AddDays(60), policy.RenewAt(certificate, null, Issued.AddDays(41), new Random(1)));
    }

    [Fact]
    public void Backoff_doubles_from_a_minute_with_jitter_and_stops_growing_at_six_hours()
    {
        var random = new Random(7);
        for (var failures = 1; failures <= 12; failures++)
        {
            var nominal = TimeSpan.FromMinutes(Math.Min(Math.Pow(2, failures - 1), 360));
            Assert.InRange(RenewalPolicy.Backoff(failures, random), nominal * 0.5, nominal * 1.5);
        }

        Assert.InRange(RenewalPolicy.Backoff(1000, random), TimeSpan.FromHours(3), TimeSpan.FromHours(9));
    }

    [Fact]
    public async Task Certificate_not_yet_due_is_served_and_checked_again_at_its_renewal_point_without_ordering()
    {
        var (chain, key) = TestCertificates.Chain(["edge.example.org"], Issued, TimeSpan.FromDays(90));
        new CertificateStore(_dir).SaveCertificate(chain, key);
        var time = new FakeTimeProvider(Issued.AddDays(59).AddHours(18));
        var handler = new FakeAcmeServer();
        var serving = new ServingCertificates(["edge.example.org"], time);
        using var manager = new AcmeCertificateManager(Options(), new ChallengeResponder(), serving, time, NullLogger.Instance, handler);

        var next = await manager.RenewIfDueAsync(force: false, TestContext.Current.CancellationToken);

        Assert.Equal(Issued.AddDays(60), next);
        Assert.False(serving.IsFallback);
        Assert.DoesNotContain(handler.Requests, r => r.Method == HttpMethod.Post);
    }

    [Fact]
    public async Task Renewal_information_moves_the_renewal_earlier()
    {
        var (chain, key) = TestCertificates.Chain(["edge.example.org"], Issued, TimeSpan.FromDays(90));
        new CertificateStore(_dir).SaveCertificate(chain, key);
        var time = new FakeTimeProvider(Issued.AddDays(19).AddHours(18));
        var handler = new FakeAcmeServer { RenewalWindow = (Issued.AddDays(20), Issued.AddDays(20).AddMinutes(1)) };
        using var manager = new AcmeCertificateManager(Options(), new ChallengeResponder(), new ServingCertificates(["edge.example.org"], time), time, NullLogger.Instance, handler);

        var next = await manager.RenewIfDueAsync(force: false, TestContext.Current.CancellationToken);

        Assert.InRange(next, Issued.AddDays(20), Issued.AddDays(20).AddMinutes(1));
        Assert.Contains(handler.Requests, r => r.RequestUri!.AbsolutePath.StartsWith("/renewal-info/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task At_start_up_the_account_order_and_authorization_are_set_up_before_the_listeners_and_the_challenge_answered_after()
    {
        var ct = TestContext.Current.CancellationToken;
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var authorizationAsked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answeredWhileListening = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var handler = new FakeAcmeServer();
        handler.Posts.Enqueue(() => FakeAcmeServer.Json(HttpStatusCode.Created, "{}", "https://ca.test/acct/1"));
        handler.Posts.Enqueue(() => FakeAcmeServer.Json(
            HttpStatusCode.Created,
            """{"status":"pending","identifiers":[{"type":"dns","value":"edge.example.org"}],"authorizations":["https://ca.test/authz/1"],"finalize":"https://ca.test/finalize/1"}""",
            "https://ca.test/order/1"));
        handler.Posts.Enqueue(() =>
        {
            authorizationAsked.TrySetResult();
            return FakeAcmeServer.Json(
                HttpStatusCode.OK,
                """{"status":"pending","identifier":{"type":"dns","value":"edge.example.org"},"challenges":[{"type":"http-01","url":"https://ca.test/chall/1","status":"pending","token":"tok"}]}""");
        });
        handler.Posts.Enqueue(() =>
        {
            answeredWhileListening.TrySetResult(listening.Task.IsCompleted);
            // The rest of the order (polling, finalizing) is not this test's: it stops here.
            stop.Cancel();
            return FakeAcmeServer.Json(HttpStatusCode.OK, """{"type":"http-01","url":"https://ca.test/chall/1","status":"processing","token":"tok"}""");
        });
        var responder = new ChallengeResponder();
        using var manager = new AcmeCertificateManager(
            Options(), responder, new ServingCertificates(["edge.example.org"], TimeProvider.System), TimeProvider.System, NullLogger.Instance, handler);

        var renewal = manager.RenewIfDueAsync(force: false, stop.Token, listening.Task);
        await authorizationAsked.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
        Assert.False(answeredWhileListening.Task.IsCompleted, "the challenge was answered before the listeners were bound");
        listening.SetResult();

        Assert.True(await answeredWhileListening.Task.WaitAsync(TimeSpan.FromSeconds(30), ct));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => renewal);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private AcmeOptions Options() => new()
    {
        Enabled = true,
        AcceptTermsOfService = true,
        DirectoryUrl = FakeAcmeServer.Directory,
        Domains = ["edge.example.org"],
        StorePath = _dir,
    };

    private static X509Certificate2 Leaf(TimeSpan lifetime)
    {
        var (chain, key) = TestCertificates.Chain(["edge.example.org"], Issued, lifetime);
        using (key)
        {
            return X509Certificate2.CreateFromPem(chain);
        }
    }
}
