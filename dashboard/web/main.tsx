// The dashboard's entry point (bundled by dashboard/build.ts).

import { render } from 'preact';
import { App } from './app.js';
import './styles/base.css';
import './styles/alerts.css';
import './styles/tavle.css';
import './styles/views.css';
import 'uplot/dist/uPlot.min.css';

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
