-- Alerts already sent, by kind and subject: whichever dashboard process claims an
-- alert here first sends it, so replicas do not send it twice, nor a restart again.
-- Rows older than 30 days are deleted as alerts are claimed.
CREATE TABLE dashboard_alerts_sent (
    alert VARCHAR(64) NOT NULL,
    about VARCHAR(512) NOT NULL,
    sent_at DATETIME NOT NULL,
    PRIMARY KEY (alert, about)
);
