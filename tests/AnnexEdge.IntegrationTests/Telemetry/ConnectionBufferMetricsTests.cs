using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using AnnexEdge.Hosting;
using AnnexEdge.IntegrationTests.Faults;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Telemetry;

/// <summary>
/// <c>annexedge_connection_buffer_bytes</c> shows the 64 KiB buffers client connections hold: a connection holds one
/// while its request arrives, and gives it back when it goes.
/// </summary>
public sealed class ConnectionBufferMetricsTests
{
    private const int BlockSize = LargeBlockMemoryPoolFactory.BlockSize;
    private const int Connections = 8;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Connections_halfway_through_their_request_heads_show_as_lent_buffers_until_they_close()
    {
        await using var backend = RawHttpBackend.AnsweringJson("""{"present":false}""");
        await using var edge = await EdgeHost.StartAsync(new JsonObject
        {
            ["Repositories"] = new JsonArray(new JsonObject
            {
                ["Name"] = "node",
                ["Uuid"] = "5f1c0e7a-3b7d-4a43-9a55-0c1d1f4e2a10",
                ["Backends"] = new JsonArray((JsonNode)backend.Url),
            }),
        });
        var before = await LentAsync(edge);

        var clients = new List<TcpClient>();
        double held = 0;
        try
        {
            foreach (var _ in Enumerable.Range(0, Connections))
            {
                var client = new TcpClient();
                clients.Add(client);
                await client.ConnectAsync("127.0.0.1", edge.Port, Ct);
                // A head cut within a line: Kestrel keeps the unfinished line in its buffer until the rest arrives.
                await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes("GET /_annexedge/health HTTP/1.1\r\nHost: ed"), Ct);
            }

            await Eventually.Async(
                async () => (held = await LentAsync(edge)) >= before + (Connections * BlockSize),
                TimeSpan.FromSeconds(10),
                $"{Connections} buffers lent above the {before} bytes before",
                () => $"lent: {held} bytes");
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }

        // Two blocks of slack: the scrapes' own connection may hold one or two meanwhile (see LargeBlockMemoryPool).
        double now = 0;
        await Eventually.Async(
            async () => (now = await LentAsync(edge)) <= held - ((Connections - 2) * BlockSize),
            TimeSpan.FromSeconds(10),
            "the closed connections' buffers given back",
            () => $"lent: {now} bytes, {held} while they were open");
    }

    private static async Task<double> LentAsync(EdgeHost edge)
    {
        var metrics = PrometheusText.Parse(await P2pHttp.Http.GetStringAsync(edge.Url + "/metrics", Ct));
        return metrics.Value("annexedge_connection_buffer_bytes", ("state", "lent"))
            ?? throw new InvalidOperationException("no annexedge_connection_buffer_bytes{state=\"lent\"} in /metrics");
    }
}
