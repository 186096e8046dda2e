using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Acme;

/// <summary>The edge obtains, serves and keeps certificates from a real Pebble ACME server.</summary>
public sealed class PebbleAcmeTests
{
    // Generous: issuing takes a second or two, but a loaded 2-core CI machine can stall processes for much longer.
    private static readonly TimeSpan IssueTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Http01_certificate_is_obtained_and_verified_by_a_client_trusting_only_Pebble()
    {
        var (httpPort, httpsPort) = (FreePort.Next(), FreePort.Next());
        await using var pebble = await PebbleServer.StartAsync(httpPort, httpsPort);
        using var store = new TempDirectory("acme-store");
        await using var edge = await AcmeEdge.StartAsync(AcmeEdge.AcmeSection(pebble, store.Path, "http-01"), httpPort, httpsPort);

        using var served = await edge.WaitForVerifiedHttpsAsync(await pebble.RootPemAsync(), IssueTimeout);

        Assert.Contains("Pebble Intermediate CA", served.Issuer);
        await edge.LogLineAsync("Answering ACME http-01 for edge.annexedge.test");
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(ownerOnly, File.GetUnixFileMode(Path.Combine(store.Path, "account.key")));
        Assert.Equal(ownerOnly, File.GetUnixFileMode(Path.Combine(store.Path, "certificate.pem")));
    }

    [Fact]
    public async Task TlsAlpn01_certificate_is_obtained_in_the_TLS_handshake_and_verified()
    {
        var (httpPort, httpsPort) = (FreePort.Next(), FreePort.Next());
        await using var pebble = await PebbleServer.StartAsync(httpPort, httpsPort);
        using var store = new TempDirectory("acme-store");
        await using var edge = await AcmeEdge.StartAsync(AcmeEdge.AcmeSection(pebble, store.Path, "tls-alpn-01"), httpPort, httpsPort);

        using var served = await edge.WaitForVerifiedHttpsAsync(await pebble.RootPemAsync(), IssueTimeout);

        Assert.Contains("Pebble Intermediate CA", served.Issuer);
        await edge.LogLineAsync("Answering ACME tls-alpn-01 for edge.annexedge.test");
        Assert.DoesNotContain("Answering ACME http-01", edge.Logs);
    }

    [Fact]
    public async Task Certificate_is_obtained_when_Pebble_rejects_half_of_the_nonces()
    {
        var (httpPort, httpsPort) = (FreePort.Next(), FreePort.Next());
        await using var pebble = await PebbleServer.StartAsync(httpPort, httpsPort, new Dictionary<string, string> { ["PEBBLE_WFE_NONCEREJECT"] = "50" });
        using var store = new TempDirectory("acme-store");
        await using var edge = await AcmeEdge.StartAsync(AcmeEdge.AcmeSection(pebble, store.Path, "http-01"), httpPort, httpsPort);

        using var served = await edge.WaitForVerifiedHttpsAsync(await pebble.RootPemAsync(), IssueTimeout);

        Assert.Contains("Pebble Intermediate CA", served.Issuer);
        Assert.Contains("Configured to reject 50% of good nonces", pebble.Logs);
    }

    [Fact]
    public async Task Restarted_edge_serves_the_stored_certificate_without_a_new_order()
    {
        var (httpPort, httpsPort) = (FreePort.Next(), FreePort.Next());
        await using var pebble = await PebbleServer.StartAsync(httpPort, httpsPort);
        using var store = new TempDirectory("acme-store");
        var root = await pebble.RootPemAsync();
        string firstThumbprint;
        await using (var first = await AcmeEdge.StartAsync(AcmeEdge.AcmeSection(pebble, store.Path, "http-01"), httpPort, httpsPort))
        {
            using var issued = await first.WaitForVerifiedHttpsAsync(root, IssueTimeout);
            firstThumbprint = issued.Thumbprint;
        }

        await using var second = await AcmeEdge.StartAsync(AcmeEdge.AcmeSection(pebble, store.Path, "http-01"), httpPort, httpsPort);
        using var served = await second.WaitForVerifiedHttpsAsync(root, IssueTimeout);

        Assert.Equal(firstThumbprint, served.Thumbprint);
        Assert.DoesNotContain("ACME order", second.Logs);
    }

    [Fact]
    public async Task Http01_challenge_is_answered_by_an_edge_process_sharing_the_store_that_did_not_place_the_order()
    {
        var (orderingHttp, orderingHttps) = (FreePort.Next(), FreePort.Next());
        var (answeringHttp, answeringHttps) = (FreePort.Next(), FreePort.Next());
        // Pebble validates at the answering edge only, as a load balancer in front of both might send it there.
        await using var pebble = await PebbleServer.StartAsync(answeringHttp, answeringHttps);
        using var store = new TempDirectory("acme-store");
        // A certificate with 10 of 90 days left: due for an edge renewing 30 days ahead, not for one renewing 5 days ahead.
        SeedCertificate(store.Path, DateTimeOffset.UtcNow.AddDays(-80), DateTimeOffset.UtcNow.AddDays(10));
        var answeringAcme = AcmeEdge.AcmeSection(pebble, store.Path, "http-01");
        answeringAcme["RenewBefore"] = "5.00:00:00";
        var orderingAcme = AcmeEdge.AcmeSection(pebble, store.Path, "http-01");
        orderingAcme["RenewBefore"] = "30.00:00:00";
        await using var answering = await AcmeEdge.StartAsync(answeringAcme, answeringHttp, answeringHttps);
        await using var ordering = await AcmeEdge.StartAsync(orderingAcme, orderingHttp, orderingHttps);

        using var served = await ordering.WaitForVerifiedHttpsAsync(await pebble.RootPemAsync(), IssueTimeout);

        Assert.Contains("Pebble Intermediate CA", served.Issuer);
        await ordering.LogLineAsync("Answering ACME http-01 for edge.annexedge.test");
        Assert.DoesNotContain("/.well-known/acme-challenge/", ordering.Logs);
        await answering.LogMatchAsync(@"GET /\.well-known/acme-challenge/[A-Za-z0-9_-]+ 200");
        Assert.DoesNotContain("ACME order", answering.Logs);
        Assert.Empty(Directory.GetFiles(Path.Combine(store.Path, "challenges")));
    }

    [Fact]
    public async Task Plain_HTTP_redirects_to_HTTPS_except_challenges_and_liveness()
    {
        var (httpPort, httpsPort) = (FreePort.Next(), FreePort.Next());
        await using var pebble = await PebbleServer.StartAsync(httpPort, httpsPort);
        using var store = new TempDirectory("acme-store");
        await using var edge = await AcmeEdge.StartAsync(AcmeEdge.AcmeSection(pebble, store.Path, "http-01"), httpPort, httpsPort);
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var cancellation = TestContext.Current.CancellationToken;

        var annexPath = "/git-annex/11111111-2222-4333-8444-555555555555/v4/key/SHA256E-s1--00?clientuuid=x&associatedfile=a";
        using var annex = await http.GetAsync($"http://127.0.0.1:{httpPort}{annexPath}", cancellation);
        using var forged = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{httpPort}{annexPath}") { Headers = { Host = "evil.example" } };
        using var foreignHost = await http.SendAsync(forged, cancellation);
        using var named = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{httpPort}{annexPath}") { Headers = { Host = $"EDGE.annexedge.test:{httpPort}" } };
        using var configuredHost = await http.SendAsync(named, cancellation);
        using var challenge = await http.GetAsync($"http://127.0.0.1:{httpPort}/.well-known/acme-challenge/unknown-token", cancellation);
        using var health = await http.GetAsync($"http://127.0.0.1:{httpPort}/_annexedge/health", cancellation);

        // Only ever to a configured domain: a request for an address or a forged Host goes to the first one.
        var expected = $"https://{AcmeEdge.DefaultDomain}:{httpsPort}{annexPath}";
        Assert.Equal(HttpStatusCode.PermanentRedirect, annex.StatusCode);
        Assert.Equal(expected, annex.Headers.Location!.ToString());
        Assert.Equal(HttpStatusCode.PermanentRedirect, foreignHost.StatusCode);
        Assert.Equal(expected, foreignHost.Headers.Location!.ToString());
        Assert.Equal(expected, configuredHost.Headers.Location!.ToString());
        Assert.Equal(HttpStatusCode.NotFound, challenge.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Renewed_certificate_is_swapped_in_for_new_connections_while_an_open_connection_keeps_working()
    {
        var (httpPort, httpsPort) = (FreePort.Next(), FreePort.Next());
        // 60 s certificates renewed when 50 s remain: a renewal about ten seconds after each issue.
        await using var pebble = await PebbleServer.StartAsync(httpPort, httpsPort, certificateValidity: TimeSpan.FromSeconds(60));
        using var store = new TempDirectory("acme-store");
        var acme = AcmeEdge.AcmeSection(pebble, store.Path, "http-01");
        acme["RenewBefore"] = "00:00:50";
        await using var edge = await AcmeEdge.StartAsync(acme, httpPort, httpsPort);
        var root = await pebble.RootPemAsync();
        using var first = await edge.WaitForVerifiedHttpsAsync(root, IssueTimeout);
        await using var open = await edge.OpenVerifiedConnectionAsync(root);
        Assert.Equal(200, await open.GetStatusAsync("/_annexedge/health"));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(45);
        X509Certificate2 current;
        do
        {
            await Task.Delay(500, TestContext.Current.CancellationToken);
            current = await edge.VerifiedCertificateAsync(root);
        }
        while (current.Thumbprint == first.Thumbprint && DateTime.UtcNow < deadline);

        Assert.NotEqual(first.Thumbprint, current.Thumbprint);
        Assert.Equal(200, await open.GetStatusAsync("/_annexedge/health"));
        Assert.Equal(first.Thumbprint, open.Certificate.Thumbprint);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Renewal_swaps_the_certificate_while_a_long_download_over_the_old_one_completes_intact()
    {
        var ct = TestContext.Current.CancellationToken;
        var (httpPort, httpsPort) = (FreePort.Next(), FreePort.Next());
        await using var pebble = await PebbleServer.StartAsync(httpPort, httpsPort, certificateValidity: TimeSpan.FromSeconds(60));
        await using var node = await P2pNode.StartAsync("acme-download");
        var (data, key) = P2pHttp.RandomObject(48 * 1024 * 1024);
        await P2pHttp.PutObjectAsync(P2pHttp.Api(node.Url, node.Uuid), key, data);
        using var store = new TempDirectory("acme-store");
        var acme = AcmeEdge.AcmeSection(pebble, store.Path, "http-01");
        acme["RenewBefore"] = "00:00:50";
        await using var edge = await AcmeEdge.StartAsync(acme, httpPort, httpsPort, node);
        var root = await pebble.RootPemAsync();
        using var first = await edge.WaitForVerifiedHttpsAsync(root, IssueTimeout);

        using var client = edge.VerifyingClient(root);
        client.Timeout = TimeSpan.FromMinutes(2);
        using var response = await client.GetAsync(
            $"/git-annex/{node.Uuid}/v4/key/{key}?clientuuid={P2pHttp.ClientUuid}", HttpCompletionOption.ResponseHeadersRead, ct);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        long received = 0;
        var swapped = false;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(45);
        var slowest = TimeSpan.Zero;
        var started = Stopwatch.StartNew();
        int read;
        try
        {
            while ((read = await body.ReadAsync(buffer, ct)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                received += read;
                if (!swapped)
                {
                    // Trickle until new handshakes get the renewed certificate, then take the rest at full speed.
                    // A handshake is bounded well below the edge's activity timeout (2 min), so that a slow one
                    // shows as itself rather than as the download cut for inactivity (seen once under load).
                    var handshake = Stopwatch.StartNew();
                    using var now = await edge.VerifiedCertificateAsync(root).WaitAsync(TimeSpan.FromSeconds(30), ct);
                    slowest = handshake.Elapsed > slowest ? handshake.Elapsed : slowest;
                    swapped = now.Thumbprint != first.Thumbprint;
                    Assert.True(swapped || DateTime.UtcNow < deadline, "no renewal within 45 s");
                    await Task.Delay(swapped ? 0 : 200, ct);
                }
            }
        }
        catch (Exception e) when (e is IOException or HttpRequestException or TimeoutException)
        {
            throw new InvalidOperationException(
                $"download failed after {started.Elapsed} at byte {received} (renewed: {swapped}, slowest handshake {slowest}):\n{edge.Logs}", e);
        }

        Assert.True(swapped, "the certificate was renewed during the download");
        Assert.Equal(data.Length, received);
        Assert.Equal(SHA256.HashData(data), hash.GetHashAndReset());
    }

    /// <summary>Stores a self-signed certificate for the edge's domain, as if an earlier order had left it.</summary>
    private static void SeedCertificate(string storePath, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={AcmeEdge.DefaultDomain}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(AcmeEdge.DefaultDomain);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(notBefore, notAfter);
        new AnnexEdge.Acme.CertificateStore(storePath).SaveCertificate(certificate.ExportCertificatePem(), key);
    }
}
