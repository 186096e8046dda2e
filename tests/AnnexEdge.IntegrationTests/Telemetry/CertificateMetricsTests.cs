using AnnexEdge.IntegrationTests.Acme;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Telemetry;

/// <summary>A certificate obtained from a real Pebble ACME server, as <c>/metrics</c> and the status page show it.</summary>
public sealed class CertificateMetricsTests
{
    [Fact]
    public async Task The_certificates_expiry_per_domain_and_the_last_renewal_outcome_are_in_metrics_and_on_the_status_page()
    {
        var ct = TestContext.Current.CancellationToken;
        var (httpPort, httpsPort) = (FreePort.Next(), FreePort.Next());
        await using var pebble = await PebbleServer.StartAsync(httpPort, httpsPort);
        using var store = new TempDirectory("acme-store");
        await using var edge = await AcmeEdge.StartAsync(AcmeEdge.AcmeSection(pebble, store.Path, "http-01"), httpPort, httpsPort);
        var root = await pebble.RootPemAsync();
        using var served = await edge.WaitForVerifiedHttpsAsync(root, TimeSpan.FromSeconds(90));
        using var https = edge.VerifyingClient(root);

        PrometheusText metrics = null!;
        await Eventually.Async(
            async () => (metrics = PrometheusText.Parse(await https.GetStringAsync("/metrics", ct))).Value("annexedge_certificate_last_renewal_success") == 1,
            TimeSpan.FromSeconds(30),
            "the order counted as a successful renewal",
            () => edge.Logs);

        Assert.Equal(
            new DateTimeOffset(served.NotAfter.ToUniversalTime()).ToUnixTimeSeconds(),
            metrics.Value("annexedge_certificate_expiry_timestamp_seconds", ("domain", AcmeEdge.DefaultDomain)));
        Assert.InRange(
            metrics.Value("annexedge_certificate_last_renewal_timestamp_seconds") ?? 0,
            DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds(),
            DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeSeconds());
        var page = await https.GetStringAsync("/_annexedge/", ct);
        Assert.Contains("<tr><td>" + AcmeEdge.DefaultDomain + "</td>", page);
        Assert.Contains("Last certificate order or check: succeeded", page);
    }
}
