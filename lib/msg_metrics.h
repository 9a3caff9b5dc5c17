/* Messages between the master and the metrics server (haven-metrics: one
 * process, chrooted and unprivileged, serving the OpenMetrics endpoint on
 * metrics_listen). It parses the HTTP requests; the master only answers
 * with the text of its counters. */
#ifndef HAVEN_MSG_METRICS_H
#define HAVEN_MSG_METRICS_H

enum msg_metrics {
	/* metrics -> master: the counters, please. Empty; the header's id
	 * names the request. */
	MSG_METRICS_REQ = 0x600,
	/* master -> metrics, same id: bytes exposition text (OpenMetrics
	 * 1.0, ending in "# EOF\n"). */
	MSG_METRICS_TEXT,
};

#endif
