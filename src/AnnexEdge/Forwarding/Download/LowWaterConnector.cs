using System.Net.Sockets;

namespace AnnexEdge.Forwarding.Download;

/// <summary>SocketsHttpHandler's ConnectCallback for backend connections that batch downloads (<see cref="LowWaterStream"/>).</summary>
internal static class LowWaterConnector
{
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> For(TimeProvider time) =>
        async (context, cancellationToken) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
            }
            catch
            {
                socket.Dispose();
                throw;
            }

            // Under TLS the connection carries records, not heads and bodies: nothing to follow, nor a safe mark.
            return context.InitialRequestMessage.RequestUri?.Scheme == Uri.UriSchemeHttps
                ? new NetworkStream(socket, ownsSocket: true)
                : new LowWaterStream(socket, time);
        };
}
