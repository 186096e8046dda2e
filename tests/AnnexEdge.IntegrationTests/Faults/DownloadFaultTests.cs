using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace AnnexEdge.IntegrationTests.Faults;

/// <summary>
/// A download whose backend breaks its word (sends less or more than <c>X-git-annex-data-length</c>, or drops the
/// connection) must never reach the client as a complete response: the edge ends the client's connection. Each
/// fault is tried on both download transports (<c>Forwarding:DownloadTransport</c>).
/// </summary>
public sealed class DownloadFaultTests
{
    private const string DataLength = "X-git-annex-data-length";

    [Theory]
    [MemberData(nameof(FaultEdge.DownloadTransports), MemberType = typeof(FaultEdge))]
    public async Task Honest_download_arrives_complete_with_its_content_length(string transport)
    {
        using var backend = WireMockServer.Start();
        backend.Given(Request.Create().WithPath($"/git-annex/{FaultEdge.Uuid}/v4/key/{FaultEdge.Key}").UsingGet())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader(DataLength, "1000")
                .WithHeader("Content-Type", "application/octet-stream").WithBody(new byte[1000]));
        await using var edge = await EdgeHost.StartAsync(FaultEdge.ConfigFor(Transport(transport), backend.Url!));

        var download = await ClientDownload.GetAsync(KeyUrl(edge), TestContext.Current.CancellationToken);

        Assert.Null(download.Error);
        Assert.Equal(HttpStatusCode.OK, download.Status);
        Assert.Equal(1000, download.BytesRead);
        // The mismatch would be logged before the request's own event, which therefore proves its absence.
        await edge.RequestEventAsync("GET", $"/v4/key/{FaultEdge.Key}", 200);
        Assert.DoesNotContain(edge.Events.All, e => e.EventId() == EdgeEventIds.DataLengthMismatch);
    }

    [Theory]
    [MemberData(nameof(FaultEdge.DownloadTransports), MemberType = typeof(FaultEdge))]
    public async Task Short_body_of_a_well_framed_response_is_cut_so_the_client_never_sees_a_complete_response(string transport)
    {
        using var backend = WireMockServer.Start();
        backend.Given(Request.Create().WithPath($"/git-annex/{FaultEdge.Uuid}/v4/key/{FaultEdge.Key}").UsingGet())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader(DataLength, "1000")
                .WithHeader("Content-Type", "application/octet-stream").WithBody(new byte[500]));
        await using var edge = await EdgeHost.StartAsync(FaultEdge.ConfigFor(Transport(transport), backend.Url!));

        var download = await ClientDownload.GetAsync(KeyUrl(edge), TestContext.Current.CancellationToken);

        AssertCutOff(download, maxBytes: 500, edge);
        await edge.EventAsync(EdgeEventIds.DataLengthMismatch);
    }

    [Theory]
    [MemberData(nameof(FaultEdge.DownloadTransports), MemberType = typeof(FaultEdge))]
    public async Task Short_body_ended_by_the_last_chunk_is_cut_so_the_client_never_sees_a_complete_response(string transport)
    {
        await using var backend = new RawHttpBackend(async (_, connection, ct) =>
        {
            await RawHttpBackend.WriteHeadAsync(connection, "200 OK", [$"{DataLength}: 1000", "Content-Type: application/octet-stream", "Transfer-Encoding: chunked"], ct);
            await connection.WriteAsync(Encoding.ASCII.GetBytes("1f4\r\n"), ct);
            await connection.WriteAsync(new byte[500], ct);
            await connection.WriteAsync(Encoding.ASCII.GetBytes("\r\n0\r\n\r\n"), ct);
        });
        await using var edge = await EdgeHost.StartAsync(FaultEdge.ConfigFor(Transport(transport), backend.Url));

        var download = await ClientDownload.GetAsync(KeyUrl(edge), TestContext.Current.CancellationToken);

        AssertCutOff(download, maxBytes: 500, edge);
        await edge.EventAsync(EdgeEventIds.DataLengthMismatch);
    }

    [Theory]
    [MemberData(nameof(FaultEdge.DownloadTransports), MemberType = typeof(FaultEdge))]
    public async Task Short_body_ended_by_closing_the_connection_is_cut_so_the_client_never_sees_a_complete_response(string transport)
    {
        await using var backend = new RawHttpBackend(async (_, connection, ct) =>
        {
            await RawHttpBackend.WriteHeadAsync(connection, "200 OK", [$"{DataLength}: 1000", "Content-Type: application/octet-stream", "Connection: close"], ct);
            await connection.WriteAsync(new byte[500], ct);
        });
        await using var edge = await EdgeHost.StartAsync(FaultEdge.ConfigFor(Transport(transport), backend.Url));

        var download = await ClientDownload.GetAsync(KeyUrl(edge), TestContext.Current.CancellationToken);

        AssertCutOff(download, maxBytes: 500, edge);
        await edge.EventAsync(EdgeEventIds.DataLengthMismatch);
    }

    [Theory]
    [MemberData(nameof(FaultEdge.DownloadTransports), MemberType = typeof(FaultEdge))]
    public async Task Long_body_is_cut_at_the_announced_length(string transport)
    {
        using var backend = WireMockServer.Start();
        backend.Given(Request.Create().WithPath($"/git-annex/{FaultEdge.Uuid}/v4/key/{FaultEdge.Key}").UsingGet())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader(DataLength, "100")
                .WithHeader("Content-Type", "application/octet-stream").WithBody(new byte[200]));
        await using var edge = await EdgeHost.StartAsync(FaultEdge.ConfigFor(Transport(transport), backend.Url!));

        var download = await ClientDownload.GetAsync(KeyUrl(edge), TestContext.Current.CancellationToken);

        AssertCutOff(download, maxBytes: 100, edge);
        // The guard refused the extra bytes: YARP logs the failed copy with the guard's exception.
        await edge.EventAsync(e => e.Exception?.ToString().Contains("backend sent more than the 100 bytes it announced", StringComparison.Ordinal) == true);
    }

    [Theory]
    [MemberData(nameof(FaultEdge.DownloadTransports), MemberType = typeof(FaultEdge))]
    public async Task Short_body_with_a_content_length_of_what_was_sent_is_cut_so_the_client_never_sees_a_complete_response(string transport)
    {
        await using var backend = new RawHttpBackend(async (_, connection, ct) =>
        {
            await RawHttpBackend.WriteHeadAsync(connection, "200 OK", [$"{DataLength}: 1000", "Content-Type: application/octet-stream", "Content-Length: 500"], ct);
            await connection.WriteAsync(new byte[500], ct);
        });
        await using var edge = await EdgeHost.StartAsync(FaultEdge.ConfigFor(Transport(transport), backend.Url));

        var download = await ClientDownload.GetAsync(KeyUrl(edge), TestContext.Current.CancellationToken);

        AssertCutOff(download, maxBytes: 500, edge);
        await edge.EventAsync(EdgeEventIds.DataLengthMismatch);
    }

    [Theory]
    [MemberData(nameof(FaultEdge.DownloadTransports), MemberType = typeof(FaultEdge))]
    public async Task Long_body_sent_in_two_parts_is_cut_after_the_announced_length(string transport)
    {
        await using var backend = new RawHttpBackend(async (_, connection, ct) =>
        {
            await RawHttpBackend.WriteHeadAsync(connection, "200 OK", [$"{DataLength}: 100", "Content-Type: application/octet-stream", "Content-Length: 200"], ct);
            await connection.WriteAsync(new byte[100], ct);
            await connection.FlushAsync(ct);
            // Let the edge pass the first, honest part on before the excess arrives.
            await Task.Delay(300, ct);
            await connection.WriteAsync(new byte[100], ct);
        });
        await using var edge = await EdgeHost.StartAsync(FaultEdge.ConfigFor(Transport(transport), backend.Url));

        var download = await ClientDownload.GetAsync(KeyUrl(edge), TestContext.Current.CancellationToken);

        AssertCutOff(download, maxBytes: 100, edge);
        // The guard refused the extra bytes: YARP logs the failed copy with the guard's exception.
        await edge.EventAsync(e => e.Exception?.ToString().Contains("backend sent more than the 100 bytes it announced", StringComparison.Ordinal) == true);
    }

    [Theory]
    [MemberData(nameof(FaultEdge.DownloadTransports), MemberType = typeof(FaultEdge))]
    public async Task Backend_dropping_the_connection_mid_body_fails_the_clients_read(string transport)
    {
        await using var backend = new RawHttpBackend(async (_, connection, ct) =>
        {
            await RawHttpBackend.WriteHeadAsync(connection, "200 OK", [$"{DataLength}: 1000", "Content-Type: application/octet-stream", "Content-Length: 1000"], ct);
            await connection.WriteAsync(new byte[500], ct);
        });
        await using var edge = await EdgeHost.StartAsync(FaultEdge.ConfigFor(Transport(transport), backend.Url));

        var download = await ClientDownload.GetAsync(KeyUrl(edge), TestContext.Current.CancellationToken);

        AssertCutOff(download, maxBytes: 500, edge);
    }

    [Theory]
    [MemberData(nameof(FaultEdge.DownloadTransports), MemberType = typeof(FaultEdge))]
    public async Task Backend_stalling_mid_body_fails_the_clients_read_after_the_activity_timeout(string transport)
    {
        await using var backend = new RawHttpBackend(async (_, connection, ct) =>
        {
            await RawHttpBackend.WriteHeadAsync(connection, "200 OK", [$"{DataLength}: 1000", "Content-Type: application/octet-stream", "Content-Length: 1000"], ct);
            await connection.WriteAsync(new byte[500], ct);
            await connection.FlushAsync(ct);
            await Task.Delay(Timeout.Infinite, ct);
        });
        var forwarding = Transport(transport);
        forwarding["ActivityTimeout"] = "00:00:02";
        await using var edge = await EdgeHost.StartAsync(FaultEdge.ConfigFor(forwarding, backend.Url));

        var download = await ClientDownload.GetAsync(KeyUrl(edge), TestContext.Current.CancellationToken);

        AssertCutOff(download, maxBytes: 500, edge);
        Assert.InRange(download.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(10));
    }

    private static JsonObject Transport(string transport) => new() { ["DownloadTransport"] = transport };

    private static string KeyUrl(EdgeHost edge) => edge.Url + FaultEdge.PathOf("key");

    /// <summary>
    /// The client's read failed (the connection was ended) after at most <paramref name="maxBytes"/> bytes, so
    /// neither HttpClient nor git-annex can take the body for a complete object. A read the client gave up on is no cut.
    /// </summary>
    private static void AssertCutOff(ClientDownload download, long maxBytes, EdgeHost edge)
    {
        var what = $"{download}\n--- edge\n{edge.Logs}";
        Assert.False(download.TimedOut, "the client's read hung: " + what);
        Assert.True(download.Error is not null, "the client's read completed: " + what);
        Assert.True(download.BytesRead <= maxBytes, "the client got more than it should: " + what);
        Assert.True(download.Status is null or HttpStatusCode.OK, "unexpected status: " + what);
    }
}
