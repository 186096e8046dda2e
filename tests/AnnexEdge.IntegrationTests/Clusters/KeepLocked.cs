using System.Net;
using System.Text;
using System.Text.Json;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Clusters;

/// <summary>
/// A <c>keeplocked</c> request held open through the edge, as git-annex's client holds it: the body sends
/// <c>{"unlock": false}</c> at once and <c>{"unlock": true}</c> when the test unlocks (or is done).
/// </summary>
internal sealed class KeepLocked : IAsyncDisposable
{
    private readonly TaskCompletionSource _unlock = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task<HttpResponseMessage> _response;
    private readonly ClusterLab _lab;

    private KeepLocked(ClusterLab lab, string uuid, string lockId, CancellationToken ct)
    {
        _lab = lab;
        var request = new HttpRequestMessage(
            HttpMethod.Post, ClusterLab.RequestUrl(lab.Edge, uuid, "v4", "keeplocked", "&lockid=" + Uri.EscapeDataString(lockId)))
        {
            Version = HttpVersion.Version11,
            Content = new UnlockBody(_unlock.Task),
        };
        request.Headers.Connection.Add("Keep-Alive");
        request.Headers.Add("Keep-Alive", "timeout=1200");
        _response = lab.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
    }

    public static KeepLocked Open(ClusterLab lab, string uuid, string lockId, CancellationToken ct) => new(lab, uuid, lockId, ct);

    /// <summary>Sends <c>{"unlock": true}</c> and returns the node's answer.</summary>
    public async Task<JsonElement> UnlockAsync()
    {
        _unlock.TrySetResult();
        using var response = await _response;
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"keeplocked answered {(int)response.StatusCode}: {body}\n{_lab.Logs}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        _unlock.TrySetResult();
        try
        {
            (await _response).Dispose();
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
        }
    }

    private sealed class UnlockBody(Task unlock) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            // "unlock": false now and then keeps the long poll from looking idle to the node's web server.
            do
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes("{\"unlock\": false}\n"));
                await stream.FlushAsync();
            }
            while (await Task.WhenAny(unlock, Task.Delay(TimeSpan.FromSeconds(5))) != unlock);

            await stream.WriteAsync(Encoding.UTF8.GetBytes("{\"unlock\": true}\n"));
            await stream.FlushAsync();
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
