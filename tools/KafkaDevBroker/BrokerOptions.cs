namespace MsSwift.KafkaDevBroker;

internal sealed record BrokerOptions(int Port, int Partitions, IReadOnlyList<string> ExtraTopics, string? Error = null)
{
    public const int DefaultPort = 9092;
    public const int DefaultPartitions = 4;

    public static BrokerOptions Parse(string[] args, string? portVariable)
    {
        var port = DefaultPort;
        if (!string.IsNullOrEmpty(portVariable) && !TryParsePort(portVariable, out port))
        {
            return Invalid($"PORT must be a port number (0-65535), got '{portVariable}'");
        }

        var partitions = DefaultPartitions;
        var topics = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--port" when value is not null && TryParsePort(value, out port):
                case "--partitions" when value is not null && int.TryParse(value, out partitions) && partitions is > 0 and <= 1000:
                case "--topic" when !string.IsNullOrWhiteSpace(value) && Add(topics, value):
                    i++;
                    break;
                default:
                    return Invalid($"bad argument '{args[i]}{(value is null ? "" : " " + value)}'; usage: [--port N] [--partitions 1-1000] [--topic NAME]...");
            }
        }

        return new BrokerOptions(port, partitions, topics);
    }

    private static BrokerOptions Invalid(string error) => new(0, 0, [], error);

    private static bool TryParsePort(string text, out int port) => int.TryParse(text, out port) && port is >= 0 and <= 65535;

    private static bool Add(List<string> topics, string topic)
    {
        topics.Add(topic);
        return true;
    }
}
