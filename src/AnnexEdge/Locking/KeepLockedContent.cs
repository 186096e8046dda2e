using System.Buffers;
using System.IO.Pipelines;
using System.Net;

namespace AnnexEdge.Locking;

/// <summary>
/// The body the edge sends a backend for a client's <c>keeplocked</c>. It passes on the client's messages only
/// when each is a newline-delimited JSON object <c>{"unlock": bool}</c> (empty lines are allowed: git-annex sends
/// one first), flushing each at once. When the client disconnects, ends its body, or sends anything else, or when
/// <paramref name="ended"/> says the edge is stopping, the edge itself sends <c>{"unlock": true}</c>, so the backend
/// releases the lock and its workers at once instead of holding them for the lock's lifetime.
/// </summary>
/// <param name="client">The client's keeplocked body.</param>
/// <param name="ended">Cancelled when the client is gone or the edge stops.</param>
internal sealed class KeepLockedContent(PipeReader client, CancellationToken ended) : HttpContent
{
    private const int MaxLine = 1024;
    private static readonly byte[] Unlock = "{\"unlock\": true}\n"u8.ToArray();

    /// <summary>The client sent something that is not a keeplocked message.</summary>
    public bool Invalid { get; private set; }

    /// <summary>The client itself asked to unlock.</summary>
    public bool ClientUnlocked { get; private set; }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult read;
            try
            {
                read = await client.ReadAsync(ended);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or Microsoft.AspNetCore.Http.BadHttpRequestException)
            {
                break;
            }

            var buffer = read.Buffer;
            while (TryTakeLine(ref buffer, out var line))
            {
                switch (Classify(line))
                {
                    case Message.Blank:
                    case Message.KeepLocked:
                        await stream.WriteAsync(line.ToArray(), cancellationToken);
                        await stream.WriteAsync("\n"u8.ToArray(), cancellationToken);
                        await stream.FlushAsync(cancellationToken);
                        continue;
                    case Message.Unlock:
                        ClientUnlocked = true;
                        break;
                    default:
                        Invalid = true;
                        break;
                }

                client.AdvanceTo(buffer.Start);
                await stream.WriteAsync(Unlock, cancellationToken);
                return;
            }

            if (buffer.Length > MaxLine)
            {
                Invalid = true;
                client.AdvanceTo(buffer.End);
                break;
            }

            client.AdvanceTo(buffer.Start, buffer.End);
            if (read.IsCompleted || read.IsCanceled)
            {
                // A partial last line is not a message either.
                Invalid |= !buffer.IsEmpty && Classify(buffer) != Message.Blank;
                break;
            }
        }

        await stream.WriteAsync(Unlock, cancellationToken);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    internal enum Message
    {
        Blank,
        KeepLocked,
        Unlock,
        Invalid,
    }

    /// <summary>What one line of a keeplocked body is.</summary>
    internal static Message Classify(ReadOnlySequence<byte> line)
    {
        var bytes = line.ToArray();
        if (bytes.All(b => b is (byte)' ' or (byte)'\t' or (byte)'\r'))
        {
            return Message.Blank;
        }

        return Protocol.P2pAnswer.Parse(bytes)?.Bool("unlock") switch
        {
            true => Message.Unlock,
            false => Message.KeepLocked,
            null => Message.Invalid,
        };
    }

    private static bool TryTakeLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        var newline = buffer.PositionOf((byte)'\n');
        if (newline is null)
        {
            line = default;
            return false;
        }

        line = buffer.Slice(0, newline.Value);
        buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));
        return true;
    }
}
