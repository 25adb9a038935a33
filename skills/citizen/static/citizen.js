// The citizen page: get a Direct Line token for this visit from the app (never the secret), then start Web Chat.
// No inline script runs on this page; the nonce this file was loaded with admits Web Chat's own <style> elements.
(function () {
  'use strict';

  var script = document.currentScript;
  var nonce = (script && script.nonce) || undefined;
  var config = JSON.parse(document.getElementById('citizen-config').textContent);
  var status = document.getElementById('citizen-status');

  function show(message, isError) {
    status.textContent = message;
    status.className = isError ? 'status status-error' : 'status';
    status.hidden = false;
  }

  if (!window.WebChat || !window.WebChat.renderWebChat) {
    show(config.text.noBundle, true);
    return;
  }

  function fetchToken() {
    return fetch(config.tokenUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
      credentials: 'same-origin',
      cache: 'no-store'
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok || !body.token) {
          throw new Error(body.error || config.text.tokenFailed);
        }
        return body;
      });
    }, function () {
      throw new Error(config.text.network);
    });
  }

  var colors = config.colors;
  var styleOptions = {
    accent: colors.primary,
    backgroundColor: colors.background,
    bubbleBorderRadius: 8,
    bubbleFromUserBackground: colors.primary,
    bubbleFromUserBorderRadius: 8,
    bubbleFromUserTextColor: '#ffffff',
    bubbleMaxWidth: 640,
    hideUploadButton: true,
    primaryFont: '"Hiragino Sans", "Hiragino Kaku Gothic ProN", "BIZ UDPGothic", Meiryo, "Noto Sans JP", sans-serif',
    sendBoxTextWrap: true,
    // Web Chat's default grey (#767676) falls under a 4.5:1 contrast on a tinted background.
    subtle: '#595959',
    suggestedActionLayout: 'stacked'
  };

  // Once connected, tell the bot a resident is here (it greets in the browser's language): Web Chat's join event.
  var store = window.WebChat.createStore({}, function (api) {
    return function (next) {
      return function (action) {
        if (action.type === 'DIRECT_LINE/CONNECT_FULFILLED') {
          api.dispatch({
            type: 'WEB_CHAT/SEND_EVENT',
            payload: { name: 'webchat/join', value: { language: navigator.language || '' } }
          });
        }
        return next(action);
      };
    };
  });

  fetchToken().then(function (session) {
    var directLine = window.WebChat.createDirectLine({ token: session.token, domain: config.domain });
    window.WebChat.renderWebChat(
      { directLine: directLine, locale: config.locale, nonce: nonce, store: store, styleOptions: styleOptions },
      document.getElementById('webchat')
    );
    status.hidden = true;
  }).catch(function (error) {
    show(error.message || config.text.tokenFailed, true);
  });
})();
